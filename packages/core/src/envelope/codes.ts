/**
 * Stable error codes, one per way an event can be invalid. They are part of the public contract
 * (HTTP `error.code`, dead-letter headers): never rename one.
 */
export const EventErrorCode = {
  /** The event is not a JSON object. */
  NotObject: 'CONCORD_EVENT_NOT_OBJECT',
  /** A required member is absent (or `null`). */
  MissingField: 'CONCORD_EVENT_MISSING_FIELD',
  /** A required string member is empty or only whitespace. */
  EmptyField: 'CONCORD_EVENT_EMPTY_FIELD',
  /** A member has the wrong JSON type. */
  WrongType: 'CONCORD_EVENT_WRONG_TYPE',
  /** An id-like member is longer than `maxIdLength`. */
  IdTooLong: 'CONCORD_EVENT_ID_TOO_LONG',
  /** An id-like member contains control characters or leading/trailing whitespace. */
  BadId: 'CONCORD_EVENT_BAD_ID',
  /**
   * The event's JSON form is larger than `maxEventBytes` (path: empty), or `data` or `metadata` nests
   * arrays and objects deeper than `maxDepth` (path: the first container past the limit).
   */
  TooLarge: 'CONCORD_EVENT_TOO_LARGE',
  /** `baseVersion` is not a non-negative safe integer. */
  BadBaseVersion: 'CONCORD_EVENT_BAD_BASE_VERSION',
  /** `clock` has a bad entry (non-integer, negative, empty node id) or too many entries. */
  BadClock: 'CONCORD_EVENT_BAD_CLOCK',
  /** `hlc` is not a hybrid logical clock stamp. */
  BadHlc: 'CONCORD_EVENT_BAD_HLC',
  /** `data` or `metadata` holds something that is not JSON (undefined, function, NaN, Infinity, cycles). */
  NotJson: 'CONCORD_EVENT_NOT_JSON',
  /**
   * A string of the event (a value, a member name, an id, a clock node, the HLC) holds U+0000 or an
   * unpaired UTF-16 surrogate: text that has no UTF-8 form and that Postgres cannot store. (U+0000 in an
   * id-like member is a control character: `BadId`.)
   */
  Unstorable: 'CONCORD_EVENT_UNSTORABLE',
  /**
   * A member of `data` or `metadata` (at any depth), or a node of `clock`, is named `__proto__`,
   * `constructor` or `prototype`: names that are not plain data in a JavaScript object.
   */
  ReservedKey: 'CONCORD_EVENT_RESERVED_KEY',
  /** A top-level member Concord does not know (only when `allowUnknownMembers` is false). */
  UnknownField: 'CONCORD_EVENT_UNKNOWN_FIELD',
  /** CloudEvents: `specversion` is not "1.0". */
  BadSpecVersion: 'CONCORD_EVENT_BAD_SPECVERSION',
  /** CloudEvents: `datacontenttype` is not JSON, or the payload is `data_base64`. */
  UnsupportedContentType: 'CONCORD_EVENT_UNSUPPORTED_CONTENT_TYPE',
} as const;

export type EventErrorCode = (typeof EventErrorCode)[keyof typeof EventErrorCode];

/** Stable error codes for a batch as a whole. */
export const BatchErrorCode = {
  /** The body is not `{ "events": [...] }` / not an array. */
  NotBatch: 'CONCORD_BATCH_INVALID',
  /** More events than `maxBatchSize`. */
  TooLarge: 'CONCORD_BATCH_TOO_LARGE',
} as const;

export type BatchErrorCode = (typeof BatchErrorCode)[keyof typeof BatchErrorCode];

/** One problem found in one event: a stable code, the JSON path of the offending member and a message. */
export interface EventProblem {
  readonly code: EventErrorCode;
  /** Path inside the event, e.g. `aggregateId`, `clock["phone-a"]`, `data.title`; empty for the event itself. */
  readonly path: string;
  readonly message: string;
}
