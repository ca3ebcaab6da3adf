/**
 * Every error Concord raises carries a stable string `code` and says whether retrying can help.
 * Consumers decide retry vs dead-letter from `retryable` alone; HTTP maps codes to statuses at the edge.
 *
 * Each package lists its codes once, in one table made with {@link defineErrors}: the code, whether
 * retrying can help, the HTTP status an answer carrying it gets, and what it means. Errors are made from
 * those entries (`new ConcordError(ingestErrors.OVERLOADED, message)`); docs/errors.md is generated from
 * the tables.
 */
export interface ErrorDefinition<Code extends string = string> {
  /** Stable, never renamed: `CONCORD_` and the entry's key. */
  readonly code: Code;
  /** Whether retrying can help: the default of every error made from this entry. */
  readonly retryable: boolean;
  /**
   * The HTTP status of an answer carrying the code; `'per event'` when it is reported in a batch's
   * per-event results (the batch answers 200); absent when it never reaches an answer (an error that
   * still does answers 503 when retryable, else 400).
   */
  readonly status?: number | 'per event';
  /** What the code means, for the reader of docs/errors.md. */
  readonly message: string;
}

/**
 * A package's error table, checked: every entry's code is `CONCORD_` followed by its key, so a use
 * site reads `ingestErrors.OVERLOADED` for `CONCORD_OVERLOADED` in every package alike.
 */
export const defineErrors = <
  const Table extends { readonly [K in keyof Table]: ErrorDefinition<`CONCORD_${K & string}`> },
>(
  table: Table,
): Readonly<Table> => {
  for (const [key, entry] of Object.entries<ErrorDefinition>(table)) {
    if (entry.code !== `CONCORD_${key}`) throw new TypeError(`error ${key} has code ${entry.code}`);
  }
  return Object.freeze(table);
};

export interface ConcordErrorOptions {
  /** Overrides the entry's `retryable` (a code some of whose failures may pass on retry). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
  readonly details?: unknown;
}

export class ConcordError extends Error {
  override readonly name: string = 'ConcordError';
  readonly code: string;
  readonly retryable: boolean;
  readonly details: unknown;
  /** The HTTP status its table gives the code (undefined: 503 when retryable, else 400). */
  readonly status: number | undefined;

  /**
   * @param error the table entry; a plain code only where it is not known statically (a problem's code
   * carried through, a code set by a policy rule).
   */
  constructor(error: ErrorDefinition | string, message: string, options: ConcordErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = typeof error === 'string' ? undefined : error;
    this.code = typeof error === 'string' ? error : error.code;
    this.retryable = options.retryable ?? entry?.retryable ?? false;
    this.status = typeof entry?.status === 'number' ? entry.status : undefined;
    this.details = options.details;
  }
}

export const isConcordError = (value: unknown): value is ConcordError => value instanceof ConcordError;

/** Retryable unless it says otherwise: an unknown failure (network, timeout) may well pass on a retry. */
export const isRetryable = (error: unknown): boolean => (isConcordError(error) ? error.retryable : true);

/** `@concord/core`'s codes: events and batches, conflicts, versions and clocks, policies. */
export const coreErrors = defineErrors({
  INTERNAL: {
    code: 'CONCORD_INTERNAL',
    retryable: false,
    status: 500,
    message: 'An invariant broke inside Concord (a bug).',
  },
  BATCH_INVALID: {
    code: 'CONCORD_BATCH_INVALID',
    retryable: false,
    status: 400,
    message: 'The body is not `{ "events": [...] }` / not an array.',
  },
  BATCH_TOO_LARGE: {
    code: 'CONCORD_BATCH_TOO_LARGE',
    retryable: false,
    status: 413,
    message: 'More events than `maxBatchSize`.',
  },
  EVENT_NOT_OBJECT: {
    code: 'CONCORD_EVENT_NOT_OBJECT',
    retryable: false,
    status: 'per event',
    message: 'The event is not a JSON object.',
  },
  EVENT_MISSING_FIELD: {
    code: 'CONCORD_EVENT_MISSING_FIELD',
    retryable: false,
    status: 'per event',
    message: 'A required member is absent (or `null`).',
  },
  EVENT_EMPTY_FIELD: {
    code: 'CONCORD_EVENT_EMPTY_FIELD',
    retryable: false,
    status: 'per event',
    message: 'A required string member is empty or only whitespace.',
  },
  EVENT_WRONG_TYPE: {
    code: 'CONCORD_EVENT_WRONG_TYPE',
    retryable: false,
    status: 'per event',
    message: 'A member has the wrong JSON type.',
  },
  EVENT_ID_TOO_LONG: {
    code: 'CONCORD_EVENT_ID_TOO_LONG',
    retryable: false,
    status: 'per event',
    message: 'An id-like member is longer than `maxIdLength`.',
  },
  EVENT_BAD_ID: {
    code: 'CONCORD_EVENT_BAD_ID',
    retryable: false,
    status: 'per event',
    message: 'An id-like member contains control characters or leading/trailing whitespace.',
  },
  EVENT_TOO_LARGE: {
    code: 'CONCORD_EVENT_TOO_LARGE',
    retryable: false,
    status: 'per event',
    message:
      "The event's JSON form is larger than `maxEventBytes` (path: empty), or `data` or `metadata` nests arrays and objects deeper than `maxDepth` (path: the first container past the limit).",
  },
  EVENT_BAD_BASE_VERSION: {
    code: 'CONCORD_EVENT_BAD_BASE_VERSION',
    retryable: false,
    status: 'per event',
    message: '`baseVersion` is not a non-negative safe integer.',
  },
  EVENT_BAD_CLOCK: {
    code: 'CONCORD_EVENT_BAD_CLOCK',
    retryable: false,
    status: 'per event',
    message: '`clock` has a bad entry (non-integer, negative, empty node id) or too many entries.',
  },
  EVENT_BAD_HLC: {
    code: 'CONCORD_EVENT_BAD_HLC',
    retryable: false,
    status: 'per event',
    message: '`hlc` is not a hybrid logical clock stamp.',
  },
  EVENT_NOT_JSON: {
    code: 'CONCORD_EVENT_NOT_JSON',
    retryable: false,
    status: 'per event',
    message:
      '`data` or `metadata` holds something that is not JSON (undefined, function, NaN, Infinity, cycles).',
  },
  EVENT_UNSTORABLE: {
    code: 'CONCORD_EVENT_UNSTORABLE',
    retryable: false,
    status: 'per event',
    message:
      'A string of the event (a value, a member name, an id, a clock node, the HLC) holds U+0000 or an unpaired UTF-16 surrogate: text that has no UTF-8 form and that Postgres cannot store. (U+0000 in an id-like member is a control character: `EVENT_BAD_ID`.)',
  },
  EVENT_RESERVED_KEY: {
    code: 'CONCORD_EVENT_RESERVED_KEY',
    retryable: false,
    status: 'per event',
    message:
      'A member of `data` or `metadata` (at any depth), or a node of `clock`, is named `__proto__`, `constructor` or `prototype`: names that are not plain data in a JavaScript object.',
  },
  EVENT_UNKNOWN_FIELD: {
    code: 'CONCORD_EVENT_UNKNOWN_FIELD',
    retryable: false,
    status: 'per event',
    message: 'A top-level member Concord does not know (only when `allowUnknownMembers` is false).',
  },
  EVENT_BAD_SPECVERSION: {
    code: 'CONCORD_EVENT_BAD_SPECVERSION',
    retryable: false,
    status: 'per event',
    message: 'CloudEvents: `specversion` is not "1.0".',
  },
  EVENT_UNSUPPORTED_CONTENT_TYPE: {
    code: 'CONCORD_EVENT_UNSUPPORTED_CONTENT_TYPE',
    retryable: false,
    status: 'per event',
    message: 'CloudEvents: `datacontenttype` is not JSON, or the payload is `data_base64`.',
  },
  CONFLICT_BASE_VERSION_AHEAD: {
    code: 'CONCORD_CONFLICT_BASE_VERSION_AHEAD',
    retryable: false,
    status: 'per event',
    message: "`baseVersion` is ahead of the aggregate's version.",
  },
  EVENT_CLOCK_AHEAD: {
    code: 'CONCORD_EVENT_CLOCK_AHEAD',
    retryable: false,
    status: 'per event',
    message:
      "The event's own `hlc` is further ahead of ingest's clock than the configured maximum offset (`INGEST_MAX_CLOCK_SKEW_MS`): set by ingest when it stamps the event, so no broken or hostile clock wins every later last-write-wins comparison.",
  },
  AGGREGATE_TOO_LARGE: {
    code: 'CONCORD_AGGREGATE_TOO_LARGE',
    retryable: false,
    status: 413,
    message:
      "A message Concord derives from the event would exceed the bus's payload limit (`MAX_PAYLOAD_BYTES`): its applied message, which carries the aggregate's whole state, or its conflict message. Set per event by the event store and the resolver, which see the state; the aggregate keeps the state it had. A person's decision whose result would not fit is refused with 413.",
  },
  HLC_DRIFT: {
    code: 'CONCORD_HLC_DRIFT',
    retryable: false,
    status: 400,
    message: 'A remote HLC is further ahead of the local clock than allowed (core HlcClock).',
  },
  HLC_INVALID: {
    code: 'CONCORD_HLC_INVALID',
    retryable: false,
    status: 400,
    message: 'Text that is not an HLC stamp (<wall:15>-<logical:6>-<node>).',
  },
  HLC_OVERFLOW: {
    code: 'CONCORD_HLC_OVERFLOW',
    retryable: true,
    status: 503,
    message: "The HLC's logical counter is exhausted within one millisecond.",
  },
  VECTOR_INVALID: {
    code: 'CONCORD_VECTOR_INVALID',
    retryable: false,
    status: 400,
    message: 'A version vector entry is malformed.',
  },
  SPEC_INVALID: {
    code: 'CONCORD_SPEC_INVALID',
    retryable: false,
    status: 400,
    message: 'A spec (condition) was built with bad arguments.',
  },
  STRATEGY_DUPLICATE: {
    code: 'CONCORD_STRATEGY_DUPLICATE',
    retryable: false,
    status: 400,
    message: 'A strategy name or alias is registered twice.',
  },
  POLICY_INVALID: {
    code: 'CONCORD_POLICY_INVALID',
    retryable: false,
    status: 400,
    message:
      'A policy (file, candidate of a dry run or inline in a reopen) fails to load; every problem with its path.',
  },
  POLICY_NO_RULE_MATCHED: {
    code: 'CONCORD_POLICY_NO_RULE_MATCHED',
    retryable: false,
    status: 400,
    message: 'Nothing in the policy matched a conflict where a match was required (requireRuleMatch).',
  },
  POLICY_REJECTED: {
    code: 'CONCORD_POLICY_REJECTED',
    retryable: false,
    status: 'per event',
    message:
      "The policy's reject strategy refused the change (outcome rejected; the rule can set its own code).",
  },
});

/** A thrown value's code: its own when it is a Concord error, else `CONCORD_INTERNAL`. */
export const errorCode = (error: unknown): string =>
  isConcordError(error) ? error.code : coreErrors.INTERNAL.code;
