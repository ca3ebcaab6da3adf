import { coreErrors } from '../errors.js';
import { isPlainObject } from '../json.js';
import { formatVector, parseVector, type VersionVector } from '../versions/vector.js';
import type { EventProblem } from './codes.js';
import type { EventEnvelope, EnvelopeLimits, EventMetadata } from './types.js';
import { buildEnvelope, type EventValidation, MemberChecker, resolveLimits } from './validate.js';

/** A CloudEvents 1.0 event in structured-mode JSON, as Concord reads and writes it. */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  readonly datacontenttype?: string;
  readonly data: unknown;
  readonly aggregatetype: string;
  readonly baseversion?: number;
  readonly origin?: string;
  readonly hlc?: string;
  /** Version vector in `formatVector` form. */
  readonly clock?: string;
  /** Event metadata as a JSON string (extension values must be primitives). */
  readonly metadata?: string;
  readonly [extension: string]: unknown;
}

/** True when the input looks like a CloudEvent (has `specversion`). */
export const isCloudEvent = (input: unknown): boolean => isPlainObject(input) && 'specversion' in input;

const JSON_CONTENT = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * Map a structured-mode CloudEvent to a Concord envelope: `id`, `type`, `subject` → aggregateId, `data`,
 * extensions `aggregatetype`, `baseversion` (number or integer string), `origin`, `hlc`, `clock` (string
 * form or object), `metadata` (object or JSON string). The CloudEvents `source` becomes `metadata.source`
 * unless metadata already has one. Problems carry CloudEvents attribute names as paths.
 */
export const validateCloudEvent = (input: unknown, limits: Partial<EnvelopeLimits> = {}): EventValidation => {
  const lim = resolveLimits(limits);
  if (!isPlainObject(input)) {
    return {
      ok: false,
      problems: [
        { code: coreErrors.EVENT_NOT_OBJECT.code, path: '', message: 'event must be a JSON object' },
      ],
    };
  }
  const problems: EventProblem[] = [];
  const c = new MemberChecker(input, problems, lim);
  if (input['specversion'] !== '1.0') {
    c.add(
      coreErrors.EVENT_BAD_SPECVERSION.code,
      'specversion',
      `specversion must be "1.0", got ${JSON.stringify(input['specversion'])}`,
    );
  }
  const contentType = input['datacontenttype'];
  if (contentType !== undefined && (typeof contentType !== 'string' || !JSON_CONTENT.test(contentType))) {
    c.add(coreErrors.EVENT_UNSUPPORTED_CONTENT_TYPE.code, 'datacontenttype', 'only JSON data is supported');
  }
  if ('data_base64' in input) {
    c.add(
      coreErrors.EVENT_UNSUPPORTED_CONTENT_TYPE.code,
      'data_base64',
      'binary data (data_base64) is not supported',
    );
  }
  const id = c.id('id', true);
  const source = c.id('source', true);
  const type = c.id('type', true);
  const aggregateId = c.id('subject', true);
  const aggregateType = c.id('aggregatetype', true);
  const origin = c.id('origin', false);
  const hlc = c.hlc('hlc');
  const baseVersion = readBaseVersion(input['baseversion'], c);
  const clock = readClock(input['clock'], c);
  const data = c.object('data', true);
  const metadata = readMetadata(input['metadata'], c);
  if (problems.length === 0) c.size('');
  if (problems.length > 0) return { ok: false, problems };
  const withSource =
    source !== undefined && metadata?.['source'] === undefined ? { ...metadata, source } : metadata;
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
      metadata: withSource,
    }),
  };
};

const readBaseVersion = (value: unknown, c: MemberChecker): number | undefined => {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    c.add(
      coreErrors.EVENT_BAD_BASE_VERSION.code,
      'baseversion',
      'baseversion must be a non-negative integer',
    );
    return undefined;
  }
  return n;
};

const readClock = (value: unknown, c: MemberChecker): VersionVector | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    try {
      return c.clock('clock', parseVector(value));
    } catch {
      c.add(
        coreErrors.EVENT_BAD_CLOCK.code,
        'clock',
        'clock is not a version vector string ("node:counter,…")',
      );
      return undefined;
    }
  }
  return c.clock('clock', value);
};

const readMetadata = (value: unknown, c: MemberChecker): EventMetadata | undefined => {
  if (value === undefined || value === null) return undefined;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch {
      c.add(
        coreErrors.EVENT_WRONG_TYPE.code,
        'metadata',
        'metadata must be an object or a JSON object string',
      );
      return undefined;
    }
  }
  return c.object('metadata', false, parsed);
};

/** Options for `toCloudEvent`. */
export interface ToCloudEventOptions {
  /** CloudEvents `source` (URI-reference); defaults to `metadata.source` or `/concord`. */
  readonly source?: string;
}

/** Map a Concord envelope to a structured-mode CloudEvent; `validateCloudEvent` maps it back. */
export const toCloudEvent = (event: EventEnvelope, options: ToCloudEventOptions = {}): CloudEvent => {
  const metaSource = event.metadata?.['source'];
  const source = options.source ?? (typeof metaSource === 'string' ? metaSource : '/concord');
  const out: Record<string, unknown> = {
    specversion: '1.0',
    id: event.id,
    source,
    type: event.type,
    subject: event.aggregateId,
    datacontenttype: 'application/json',
    aggregatetype: event.aggregateType,
    data: event.data,
  };
  if (event.baseVersion !== undefined) out['baseversion'] = event.baseVersion;
  if (event.origin !== undefined) out['origin'] = event.origin;
  if (event.hlc !== undefined) out['hlc'] = event.hlc;
  if (event.clock !== undefined) out['clock'] = formatVector(event.clock);
  if (event.metadata !== undefined) out['metadata'] = JSON.stringify(event.metadata);
  return out as unknown as CloudEvent;
};
