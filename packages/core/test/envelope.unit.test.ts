import { describe, expect, it } from 'vitest';
import {
  EventErrorCode,
  parseEvent,
  toCloudEvent,
  utf8ByteLength,
  validateBatch,
  validateEvent,
  type EventEnvelope,
} from '@concord/core';

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
      `id:${EventErrorCode.EmptyField}`,
      `type:${EventErrorCode.WrongType}`,
      `aggregateType:${EventErrorCode.BadId}`,
      `aggregateId:${EventErrorCode.IdTooLong}`,
      `data:${EventErrorCode.WrongType}`,
      `extra:${EventErrorCode.UnknownField}`,
    ]);
  });

  it('has a code for every way an event can be invalid', () => {
    expect(codes('nope')).toEqual([`:${EventErrorCode.NotObject}`]);
    expect(codes([])).toEqual([`:${EventErrorCode.NotObject}`]);
    expect(codes({ ...valid, id: undefined })).toEqual([`id:${EventErrorCode.MissingField}`]);
    expect(codes({ ...valid, data: null })).toEqual([`data:${EventErrorCode.MissingField}`]);
    expect(codes({ ...valid, id: 'a\nb' })).toEqual([`id:${EventErrorCode.BadId}`]);
    expect(codes({ ...valid, baseVersion: -1 })).toEqual([`baseVersion:${EventErrorCode.BadBaseVersion}`]);
    expect(codes({ ...valid, baseVersion: 1.5 })).toEqual([`baseVersion:${EventErrorCode.BadBaseVersion}`]);
    expect(codes({ ...valid, baseVersion: '3' })).toEqual([`baseVersion:${EventErrorCode.WrongType}`]);
    expect(codes({ ...valid, clock: { a: -1 } })).toEqual([`clock:${EventErrorCode.BadClock}`]);
    expect(codes({ ...valid, clock: { '': 1 } })).toEqual([`clock:${EventErrorCode.BadClock}`]);
    expect(codes({ ...valid, clock: [1] })).toEqual([`clock:${EventErrorCode.WrongType}`]);
    expect(codes({ ...valid, clock: { a: 1, b: 2, c: 3 } }, { maxClockEntries: 2 })).toEqual([
      `clock:${EventErrorCode.BadClock}`,
    ]);
    expect(codes({ ...valid, hlc: '2024-01-01' })).toEqual([`hlc:${EventErrorCode.BadHlc}`]);
    expect(codes({ ...valid, data: { n: Number.NaN } })).toEqual([`data.n:${EventErrorCode.NotJson}`]);
    expect(codes({ ...valid, data: { 'a b': [undefined] } })).toEqual([
      `data["a b"][0]:${EventErrorCode.NotJson}`,
    ]);
    expect(codes({ ...valid, metadata: { when: new Date(0) } })).toEqual([
      `metadata.when:${EventErrorCode.NotJson}`,
    ]);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(codes({ ...valid, data: cyclic })).toEqual([`data.self:${EventErrorCode.NotJson}`]);
  });

  it('measures size as UTF-8 JSON bytes against the limit', () => {
    const json = (data: object) => utf8ByteLength(JSON.stringify({ ...valid, data }));
    const base = json({ t: '' });
    // 'é' is 2 bytes in UTF-8 but one UTF-16 unit: a char count would let this through.
    const title = 'é'.repeat(100);
    expect(json({ t: title })).toBe(base + 200);
    expect(codes({ ...valid, data: { t: title } }, { maxEventBytes: base + 200 })).toEqual([]);
    expect(codes({ ...valid, data: { t: title } }, { maxEventBytes: base + 199 })).toEqual([
      `:${EventErrorCode.TooLarge}`,
    ]);
    expect(codes({ ...valid, data: { t: 'x'.repeat(256 * 1024) } })).toEqual([`:${EventErrorCode.TooLarge}`]);
  });

  it('counts UTF-8 bytes exactly, surrogate pairs included', () => {
    for (const text of ['', 'abc', 'é', '€', '😀', 'a😀é€\u0000', '\ud800x']) {
      expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
    }
  });

  it('parseEvent throws a ConcordError carrying all problems', () => {
    expect(() => parseEvent({ ...valid, id: 1, data: 2 })).toThrowError(
      expect.objectContaining({
        code: EventErrorCode.WrongType,
        details: { problems: expect.arrayContaining([expect.objectContaining({ path: 'data' })]) as unknown },
      }) as Error,
    );
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
      `specversion:${EventErrorCode.BadSpecVersion}`,
      `datacontenttype:${EventErrorCode.UnsupportedContentType}`,
      `data_base64:${EventErrorCode.UnsupportedContentType}`,
      `source:${EventErrorCode.MissingField}`,
      `subject:${EventErrorCode.MissingField}`,
      `aggregatetype:${EventErrorCode.MissingField}`,
    ]);
    expect(codes({ ...ce, baseversion: 'x' })).toEqual([`baseversion:${EventErrorCode.BadBaseVersion}`]);
    expect(codes({ ...ce, clock: 'a:x' })).toEqual([`clock:${EventErrorCode.BadClock}`]);
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
