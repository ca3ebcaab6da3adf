import { ConcordError, coreErrors } from '../errors.js';
import { isPlainObject, type JsonObject, utf8ByteLength } from '../json.js';
import { ROUND_CHANGE_ID } from '../messages/ids.js';
import { isHlcString } from '../versions/hlc.js';
import { vectorProblem, type VersionVector } from '../versions/vector.js';
import type { EventErrorCode, EventProblem } from './codes.js';
import {
  findNonJson,
  findReservedMember,
  findUnstorableText,
  isUnstorableText,
  memberPath,
  RESERVED_MEMBER_NAMES,
} from './json-check.js';
import {
  DEFAULT_ENVELOPE_LIMITS,
  type EnvelopeLimits,
  type EventEnvelope,
  type EventMetadata,
} from './types.js';

/** The outcome of validating one event: the normalised envelope, or every problem found. */
export type EventValidation =
  | { readonly ok: true; readonly event: EventEnvelope }
  | { readonly ok: false; readonly problems: readonly EventProblem[] };

const KNOWN_MEMBERS = new Set([
  'id',
  'type',
  'aggregateType',
  'aggregateId',
  'baseVersion',
  'clock',
  'hlc',
  'origin',
  'data',
  'metadata',
]);
/**
 * Endings an event id may not have. The resolver records its own changes under `<conflict id>:resolution`
 * and `<conflict id>:provisional` (a conflict's id is its event's). Message ids are the event id and a
 * suffix (`<id>:applied`, `<id>:conflict`, `<id>:outcome:<outcome>`, the resolver's `<id>:resolved`):
 * the `applied` message of an event `a:outcome` would have the id of event `a`'s `outcome` message, and
 * a consumer of both topics would take the second for a redelivery of the first. Nor may it end like
 * the change of a reopened conflict's round (`:reopen:<n>`, `:review:<n>`, core's `ROUND_CHANGE_ID`).
 */
const RESERVED_EVENT_ID_SUFFIXES = [':resolution', ':provisional', ':outcome'] as const;

const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
};

/** Resolve partial limits against the defaults. */
export const resolveLimits = (limits: Partial<EnvelopeLimits> = {}): EnvelopeLimits => ({
  ...DEFAULT_ENVELOPE_LIMITS,
  ...limits,
});

/**
 * Validate a Concord envelope (DESIGN §2) and return ALL problems with their paths, or the normalised
 * event. Never throws. Size is the UTF-8 byte length of the input's JSON form.
 */
export const validateEnvelope = (input: unknown, limits: Partial<EnvelopeLimits> = {}): EventValidation => {
  const lim = resolveLimits(limits);
  if (!isPlainObject(input)) {
    return fail([
      { code: coreErrors.EVENT_NOT_OBJECT.code, path: '', message: 'event must be a JSON object' },
    ]);
  }
  const problems: EventProblem[] = [];
  const checker = new MemberChecker(input, problems, lim);
  const id = checker.id('id', true);
  const type = checker.id('type', true);
  const aggregateType = checker.id('aggregateType', true);
  const aggregateId = checker.id('aggregateId', true);
  const origin = checker.id('origin', false);
  const baseVersion = checker.baseVersion('baseVersion');
  const clock = checker.clock('clock');
  const hlc = checker.hlc('hlc');
  const data = checker.object('data', true);
  const metadata = checker.object('metadata', false);
  if (!lim.allowUnknownMembers) {
    for (const key of Object.keys(input)) {
      if (!KNOWN_MEMBERS.has(key)) {
        problems.push({
          code: coreErrors.EVENT_UNKNOWN_FIELD.code,
          path: memberPath('', key),
          message: `unknown member "${key}"`,
        });
      }
    }
  }
  if (problems.length === 0) checker.size('');
  if (problems.length > 0) return fail(problems);
  return {
    ok: true,
    event: buildEnvelope({
      id,
      type,
      aggregateType,
      aggregateId,
      origin,
      baseVersion,
      clock,
      hlc,
      data,
      metadata,
    }),
  };
};

interface EnvelopeParts {
  id: string | undefined;
  type: string | undefined;
  aggregateType: string | undefined;
  aggregateId: string | undefined;
  origin: string | undefined;
  baseVersion: number | undefined;
  clock: VersionVector | undefined;
  hlc: string | undefined;
  data: JsonObject | undefined;
  metadata: EventMetadata | undefined;
}

/** Assemble an envelope from checked parts, omitting absent optional members. */
export const buildEnvelope = (parts: EnvelopeParts): EventEnvelope => {
  const event: {
    -readonly [K in keyof EventEnvelope]: EventEnvelope[K];
  } = {
    id: parts.id ?? '',
    type: parts.type ?? '',
    aggregateType: parts.aggregateType ?? '',
    aggregateId: parts.aggregateId ?? '',
    data: parts.data ?? {},
  };
  if (parts.baseVersion !== undefined) event.baseVersion = parts.baseVersion;
  if (parts.clock !== undefined) event.clock = parts.clock;
  if (parts.hlc !== undefined) event.hlc = parts.hlc;
  if (parts.origin !== undefined) event.origin = parts.origin;
  if (parts.metadata !== undefined) event.metadata = parts.metadata;
  return event;
};

const fail = (problems: EventProblem[]): EventValidation => ({ ok: false, problems });

/** Checks members of one input object, collecting problems. Paths may be remapped (CloudEvents names). */
export class MemberChecker {
  constructor(
    private readonly input: Record<string, unknown>,
    private readonly problems: EventProblem[],
    private readonly limits: EnvelopeLimits,
  ) {}

  private present(key: string, required: boolean): unknown {
    const value = this.input[key];
    if (value === undefined || value === null) {
      if (required) this.add(coreErrors.EVENT_MISSING_FIELD.code, key, `"${key}" is required`);
      return undefined;
    }
    return value;
  }

  add(code: EventErrorCode, path: string, message: string): void {
    this.problems.push({ code, path, message });
  }

  /**
   * An id-like string: non-empty, ≤ maxIdLength, no control characters, no surrounding whitespace. The
   * event id (`id`, in both forms) must not end in a reserved suffix (`RESERVED_EVENT_ID_SUFFIXES`).
   */
  id(key: string, required: boolean): string | undefined {
    const value = this.present(key, required);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.wrong(key, 'a string', value);
    if (value.trim().length === 0) {
      this.add(coreErrors.EVENT_EMPTY_FIELD.code, key, `"${key}" must not be empty`);
      return undefined;
    }
    if (value.length > this.limits.maxIdLength) {
      this.add(
        coreErrors.EVENT_ID_TOO_LONG.code,
        key,
        `"${key}" is ${value.length} characters, max ${this.limits.maxIdLength}`,
      );
      return undefined;
    }
    if (hasControl(value) || value.trim() !== value) {
      this.add(
        coreErrors.EVENT_BAD_ID.code,
        key,
        `"${key}" must not contain control characters or surrounding whitespace`,
      );
      return undefined;
    }
    if (isUnstorableText(value)) return this.unstorable(key, `"${key}"`);
    const reserved =
      key !== 'id'
        ? undefined
        : (RESERVED_EVENT_ID_SUFFIXES.find((end) => value.endsWith(end)) ?? ROUND_CHANGE_ID.exec(value)?.[0]);
    if (reserved !== undefined) {
      this.add(
        coreErrors.EVENT_BAD_ID.code,
        key,
        `"${key}" must not end in "${reserved}": such ids would collide with ids Concord derives from others`,
      );
      return undefined;
    }
    return value;
  }

  baseVersion(key: string): number | undefined {
    const value = this.present(key, false);
    if (value === undefined) return undefined;
    if (typeof value !== 'number') return this.wrong(key, 'a number', value);
    if (!Number.isSafeInteger(value) || value < 0) {
      this.add(
        coreErrors.EVENT_BAD_BASE_VERSION.code,
        key,
        `"${key}" must be a non-negative integer, got ${value}`,
      );
      return undefined;
    }
    return value;
  }

  clock(key: string, value: unknown = this.present(key, false)): VersionVector | undefined {
    if (value === undefined) return undefined;
    if (!isPlainObject(value)) return this.wrong(key, 'an object', value);
    const why = vectorProblem(value, this.limits.maxClockEntries);
    if (why !== undefined) {
      this.add(coreErrors.EVENT_BAD_CLOCK.code, key, `"${key}" ${why}`);
      return undefined;
    }
    const node = Object.keys(value).find(isUnstorableText);
    if (node !== undefined) return this.unstorable(memberPath(key, node), `node id of "${key}"`);
    const reserved = Object.keys(value).find((name) => RESERVED_MEMBER_NAMES.has(name));
    if (reserved !== undefined) {
      const path = memberPath(key, reserved);
      this.add(coreErrors.EVENT_RESERVED_KEY.code, path, `${path}: node id "${reserved}" is reserved`);
      return undefined;
    }
    return value as VersionVector;
  }

  hlc(key: string): string | undefined {
    const value = this.present(key, false);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.wrong(key, 'a string', value);
    if (isUnstorableText(value)) return this.unstorable(key, `"${key}"`);
    if (!isHlcString(value)) {
      this.add(
        coreErrors.EVENT_BAD_HLC.code,
        key,
        `"${key}" is not an HLC stamp (<wall:15>-<logical:6>-<node>)`,
      );
      return undefined;
    }
    return value;
  }

  object(
    key: string,
    required: boolean,
    value: unknown = this.present(key, required),
  ): JsonObject | undefined {
    if (value === undefined) return undefined;
    if (!isPlainObject(value)) return this.wrong(key, 'an object', value);
    const nonJson = findNonJson(value, key, this.limits.maxDepth);
    if (nonJson) {
      const code = nonJson.tooDeep ? coreErrors.EVENT_TOO_LARGE.code : coreErrors.EVENT_NOT_JSON.code;
      this.add(code, nonJson.path, `${nonJson.path} ${nonJson.why}`);
      return undefined;
    }
    const unstorable = findUnstorableText(value, key);
    if (unstorable) {
      this.add(coreErrors.EVENT_UNSTORABLE.code, unstorable.path, `${unstorable.path} ${unstorable.why}`);
      return undefined;
    }
    const reserved = findReservedMember(value, key);
    if (reserved) {
      this.add(coreErrors.EVENT_RESERVED_KEY.code, reserved.path, `${reserved.path} ${reserved.why}`);
      return undefined;
    }
    return value as JsonObject;
  }

  /** Check the whole input's JSON size. Call only when the input is known to be JSON. */
  size(path: string): void {
    let bytes: number;
    try {
      bytes = utf8ByteLength(JSON.stringify(this.input));
    } catch (cause) {
      this.add(coreErrors.EVENT_NOT_JSON.code, path, `event cannot be serialised as JSON: ${String(cause)}`);
      return;
    }
    if (bytes > this.limits.maxEventBytes) {
      this.add(
        coreErrors.EVENT_TOO_LARGE.code,
        path,
        `event is ${bytes} bytes, max ${this.limits.maxEventBytes}`,
      );
    }
  }

  private unstorable(path: string, what: string): undefined {
    this.add(
      coreErrors.EVENT_UNSTORABLE.code,
      path,
      `${what} holds U+0000 or an unpaired surrogate, which cannot be stored`,
    );
    return undefined;
  }

  private wrong(key: string, expected: string, value: unknown): undefined {
    const actual = Array.isArray(value) ? 'array' : typeof value;
    this.add(coreErrors.EVENT_WRONG_TYPE.code, key, `"${key}" must be ${expected}, got ${actual}`);
    return undefined;
  }
}

/** The error to raise for an invalid event: code of the first problem, all problems in `details`. */
export const eventValidationError = (problems: readonly EventProblem[]): ConcordError => {
  const first = problems[0];
  const summary = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  return new ConcordError(first?.code ?? coreErrors.EVENT_NOT_OBJECT.code, `invalid event: ${summary}`, {
    details: { problems },
  });
};
