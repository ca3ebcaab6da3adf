import { describe, expect, it } from 'vitest';
import { coreErrors } from '@concord/core';
import {
  DEFAULT_ENVELOPE_LIMITS,
  validateBatch,
  validateEvent,
  type EventEnvelope,
} from '@concord/core/envelope';
import { toCloudEvent } from '../src/envelope/cloudevents.js';
import { parseEvent } from '../src/envelope/index.js';
import { utf8ByteLength } from '../src/json.js';

const valid = {
  id: '0193-a',
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-42',
  baseVersion: 3,
  clock: { 'phone-a': 5 },
  hlc: '001700000000000-000000-phone-a',
  origin: 'phone-a',
  data: { title: 'Buy milk' },
  metadata: { tenant: 'acme', source: 'mobile' },
};

const codes = (input: unknown, limits = {}) => {
  const result = validateEvent(input, limits);
  return result.ok ? [] : result.problems.map((p) => `${p.path}:${p.code}`);
};

describe('validateEvent', () => {
  it('accepts a full envelope and returns it normalised', () => {
    const result = validateEvent(valid);
    expect(result).toEqual({ ok: true, event: valid });
  });

  it('drops null optional members and keeps only known ones', () => {
    const result = validateEvent({ ...valid, baseVersion: null, origin: null });
    expect(result.ok && result.event.baseVersion).toBe(undefined);
    expect(result.ok && 'origin' in result.event).toBe(false);
  });

  it('reports every problem at once, with paths and stable codes', () => {
    expect(
      codes({ id: '', type: 7, aggregateId: 'x'.repeat(201), aggregateType: ' t', data: [], extra: 1 }),
    ).toEqual([
      `id:${coreErrors.EVENT_EMPTY_FIELD.code}`,
      `type:${coreErrors.EVENT_WRONG_TYPE.code}`,
      `aggregateType:${coreErrors.EVENT_BAD_ID.code}`,
      `aggregateId:${coreErrors.EVENT_ID_TOO_LONG.code}`,
      `data:${coreErrors.EVENT_WRONG_TYPE.code}`,
      `extra:${coreErrors.EVENT_UNKNOWN_FIELD.code}`,
    ]);
  });

  it('refuses event ids that would collide with ids derived from other events', () => {
    // `a:outcome`'s applied message would be `a:outcome:applied`, the id of `a`'s outcome message.
    for (const id of ['a:outcome', 'a:resolution', 'a:provisional']) {
      expect(codes({ ...valid, id })).toEqual([`id:${coreErrors.EVENT_BAD_ID.code}`]);
    }
    for (const id of ['a:outcome:applied', 'a:outcomes', 'outcome', 'a:Outcome']) {
      expect(codes({ ...valid, id })).toEqual([]);
    }
  });

  it('has a code for every way an event can be invalid', () => {
    expect(codes('nope')).toEqual([`:${coreErrors.EVENT_NOT_OBJECT.code}`]);
    expect(codes([])).toEqual([`:${coreErrors.EVENT_NOT_OBJECT.code}`]);
    expect(codes({ ...valid, id: undefined })).toEqual([`id:${coreErrors.EVENT_MISSING_FIELD.code}`]);
    expect(codes({ ...valid, data: null })).toEqual([`data:${coreErrors.EVENT_MISSING_FIELD.code}`]);
    expect(codes({ ...valid, id: 'a\nb' })).toEqual([`id:${coreErrors.EVENT_BAD_ID.code}`]);
    expect(codes({ ...valid, baseVersion: -1 })).toEqual([
      `baseVersion:${coreErrors.EVENT_BAD_BASE_VERSION.code}`,
    ]);
    expect(codes({ ...valid, baseVersion: 1.5 })).toEqual([
      `baseVersion:${coreErrors.EVENT_BAD_BASE_VERSION.code}`,
    ]);
    expect(codes({ ...valid, baseVersion: '3' })).toEqual([
      `baseVersion:${coreErrors.EVENT_WRONG_TYPE.code}`,
    ]);
    expect(codes({ ...valid, clock: { a: -1 } })).toEqual([`clock:${coreErrors.EVENT_BAD_CLOCK.code}`]);
    expect(codes({ ...valid, clock: { '': 1 } })).toEqual([`clock:${coreErrors.EVENT_BAD_CLOCK.code}`]);
    expect(codes({ ...valid, clock: [1] })).toEqual([`clock:${coreErrors.EVENT_WRONG_TYPE.code}`]);
    expect(codes({ ...valid, clock: { a: 1, b: 2, c: 3 } }, { maxClockEntries: 2 })).toEqual([
      `clock:${coreErrors.EVENT_BAD_CLOCK.code}`,
    ]);
    expect(codes({ ...valid, hlc: '2024-01-01' })).toEqual([`hlc:${coreErrors.EVENT_BAD_HLC.code}`]);
    expect(codes({ ...valid, data: { n: Number.NaN } })).toEqual([
      `data.n:${coreErrors.EVENT_NOT_JSON.code}`,
    ]);
    expect(codes({ ...valid, data: { 'a b': [undefined] } })).toEqual([
      `data["a b"][0]:${coreErrors.EVENT_NOT_JSON.code}`,
    ]);
    expect(codes({ ...valid, metadata: { when: new Date(0) } })).toEqual([
      `metadata.when:${coreErrors.EVENT_NOT_JSON.code}`,
    ]);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(codes({ ...valid, data: cyclic })).toEqual([`data.self:${coreErrors.EVENT_NOT_JSON.code}`]);
  });

  it('measures size as UTF-8 JSON bytes against the limit', () => {
    const json = (data: object) => utf8ByteLength(JSON.stringify({ ...valid, data }));
    const base = json({ t: '' });
    // 'é' is 2 bytes in UTF-8 but one UTF-16 unit: a char count would let this through.
    const title = 'é'.repeat(100);
    expect(json({ t: title })).toBe(base + 200);
    expect(codes({ ...valid, data: { t: title } }, { maxEventBytes: base + 200 })).toEqual([]);
    expect(codes({ ...valid, data: { t: title } }, { maxEventBytes: base + 199 })).toEqual([
      `:${coreErrors.EVENT_TOO_LARGE.code}`,
    ]);
    expect(codes({ ...valid, data: { t: 'x'.repeat(256 * 1024) } })).toEqual([
      `:${coreErrors.EVENT_TOO_LARGE.code}`,
    ]);
  });

  it('counts UTF-8 bytes exactly, surrogate pairs included', () => {
    for (const text of ['', 'abc', 'é', '€', '😀', 'a😀é€\u0000', '\ud800x']) {
      expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
    }
  });

  it('parseEvent throws a ConcordError carrying all problems', () => {
    expect(() => parseEvent({ ...valid, id: 1, data: 2 })).toThrowError(
      expect.objectContaining({
        code: coreErrors.EVENT_WRONG_TYPE.code,
        details: { problems: expect.arrayContaining([expect.objectContaining({ path: 'data' })]) as unknown },
      }) as Error,
    );
  });
});

/** An object nesting `levels` arrays and objects (itself level 1): `{ a: [[…[]…]] }`, built without recursion. */
const nested = (levels: number): Record<string, unknown> => {
  if (levels === 1) return {};
  let inner: unknown[] = [];
  for (let level = 3; level <= levels; level++) inner = [inner];
  return { a: inner };
};

describe('nesting depth of data and metadata', () => {
  it('allows maxDepth levels (default 64) and rejects deeper JSON with CONCORD_EVENT_TOO_LARGE at the first container past it', () => {
    expect(DEFAULT_ENVELOPE_LIMITS.maxDepth).toBe(64);
    expect(codes({ ...valid, data: nested(64), metadata: nested(64) })).toEqual([]);
    // data is level 1, data.a level 2, data.a[0] level 3 …: level 65 is data.a and 63 × [0].
    const past = `a${'[0]'.repeat(63)}`;
    expect(codes({ ...valid, data: nested(65) })).toEqual([
      `data.${past}:${coreErrors.EVENT_TOO_LARGE.code}`,
    ]);
    expect(codes({ ...valid, metadata: nested(65) })).toEqual([
      `metadata.${past}:${coreErrors.EVENT_TOO_LARGE.code}`,
    ]);
    expect(codes({ ...valid, data: { a: { b: 1 } } }, { maxDepth: 2 })).toEqual([]);
    expect(codes({ ...valid, data: { a: { b: {} } } }, { maxDepth: 2 })).toEqual([
      `data.a.b:${coreErrors.EVENT_TOO_LARGE.code}`,
    ]);
    const result = validateEvent({ ...valid, data: nested(65) });
    expect(!result.ok && result.problems[0]?.message).toBe(`data.${past} nests deeper than 64 levels`);
  });

  it('is checked under CloudEvents names, metadata given as a JSON string included', () => {
    const ce = {
      specversion: '1.0',
      id: 'ce-deep',
      source: 'erp',
      type: 'PriceChanged',
      subject: 'product-7',
      aggregatetype: 'product',
    };
    expect(codes({ ...ce, data: nested(65) })[0]).toMatch(
      new RegExp(`^data\\.a.*:${coreErrors.EVENT_TOO_LARGE.code}$`),
    );
    expect(codes({ ...ce, data: {}, metadata: JSON.stringify(nested(65)) })[0]).toMatch(
      new RegExp(`^metadata\\.a.*:${coreErrors.EVENT_TOO_LARGE.code}$`),
    );
  });

  it('never overflows the stack, however deep the input: the event is rejected, the batch kept', () => {
    // 200 000 levels are 400 KB of JSON: deep enough to overflow any recursive walk.
    const deep = JSON.parse(`{"v":${'['.repeat(200_000)}${']'.repeat(200_000)}}`) as Record<string, unknown>;
    const batch = validateBatch({ events: [{ ...valid, id: 'deep', data: deep }, valid] });
    expect(batch.ok && batch.results.map((r) => (r.ok ? 'ok' : r.problems.map((p) => p.code)))).toEqual([
      [coreErrors.EVENT_TOO_LARGE.code],
      'ok',
    ]);
    // Without a depth limit the walks still finish (iteratively); JSON.stringify itself then gives up,
    // and the event is not JSON that can be serialised.
    expect(codes({ ...valid, data: deep }, { maxDepth: Number.POSITIVE_INFINITY })).toEqual([
      `:${coreErrors.EVENT_NOT_JSON.code}`,
    ]);
  });

  it('still finds cycles and unstorable text at depth, with their paths', () => {
    const cyclic: unknown[] = [];
    cyclic.push([cyclic]);
    expect(codes({ ...valid, data: { c: cyclic } })).toEqual([
      `data.c[0][0]:${coreErrors.EVENT_NOT_JSON.code}`,
    ]);
    const shared = { s: 1 };
    expect(codes({ ...valid, data: { x: shared, y: [shared, shared] } })).toEqual([]);
    const unstorable: Record<string, unknown> = { a: [[{ 'k\u0000': 1 }]] };
    expect(codes({ ...valid, data: unstorable })).toEqual([
      `data.a[0][0]["k\\u0000"]:${coreErrors.EVENT_UNSTORABLE.code}`,
    ]);
  });
});

describe('CloudEvents 1.0 structured mode', () => {
  const ce = {
    specversion: '1.0',
    id: 'ce-1',
    source: 'erp',
    type: 'PriceChanged',
    subject: 'product-7',
    aggregatetype: 'product',
    baseversion: '4',
    origin: 'erp-1',
    datacontenttype: 'application/json',
    data: { price: 10 },
  };

  it('maps id, type, subject, data and the extensions', () => {
    const result = validateEvent(ce);
    expect(result).toEqual({
      ok: true,
      event: {
        id: 'ce-1',
        type: 'PriceChanged',
        aggregateId: 'product-7',
        aggregateType: 'product',
        baseVersion: 4,
        origin: 'erp-1',
        data: { price: 10 },
        metadata: { source: 'erp' },
      },
    });
  });

  it('reports CloudEvents problems under CloudEvents names', () => {
    expect(
      codes({
        specversion: '0.3',
        id: 'x',
        type: 't',
        data: {},
        datacontenttype: 'text/plain',
        data_base64: 'AA',
      }),
    ).toEqual([
      `specversion:${coreErrors.EVENT_BAD_SPECVERSION.code}`,
      `datacontenttype:${coreErrors.EVENT_UNSUPPORTED_CONTENT_TYPE.code}`,
      `data_base64:${coreErrors.EVENT_UNSUPPORTED_CONTENT_TYPE.code}`,
      `source:${coreErrors.EVENT_MISSING_FIELD.code}`,
      `subject:${coreErrors.EVENT_MISSING_FIELD.code}`,
      `aggregatetype:${coreErrors.EVENT_MISSING_FIELD.code}`,
    ]);
    expect(codes({ ...ce, baseversion: 'x' })).toEqual([
      `baseversion:${coreErrors.EVENT_BAD_BASE_VERSION.code}`,
    ]);
    expect(codes({ ...ce, clock: 'a:x' })).toEqual([`clock:${coreErrors.EVENT_BAD_CLOCK.code}`]);
  });

  it('round-trips an envelope through toCloudEvent', () => {
    const event = valid as EventEnvelope;
    const mapped = toCloudEvent(event);
    expect(mapped.subject).toBe('task-42');
    expect(mapped.clock).toBe('phone-a:5');
    expect(validateEvent(JSON.parse(JSON.stringify(mapped)))).toEqual({ ok: true, event });
  });
});

describe('validateBatch', () => {
  it('validates each event independently', () => {
    const result = validateBatch({ events: [valid, { ...valid, id: 5 }, { ...valid, id: 'b' }] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(result.results[2]).toEqual({ ok: true, event: { ...valid, id: 'b' } });
  });

  it('rejects a body that is not a batch, and an oversized batch', () => {
    const notBatch = validateBatch({ event: valid });
    expect(!notBatch.ok && notBatch.error.code).toBe('CONCORD_BATCH_INVALID');
    const big = validateBatch(
      Array.from({ length: 3 }, () => valid),
      { maxBatchSize: 2 },
    );
    expect(!big.ok && big.error.code).toBe('CONCORD_BATCH_TOO_LARGE');
    expect(validateBatch(Array.from({ length: 1000 }, () => valid)).ok).toBe(true);
    expect(validateBatch(Array.from({ length: 1001 }, () => valid)).ok).toBe(false);
  });
});
