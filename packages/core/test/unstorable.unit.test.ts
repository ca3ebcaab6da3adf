import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreErrors } from '@concord/core';
import { validateBatch, validateEvent } from '@concord/core/envelope';

const RESERVED = ['__proto__', 'constructor', 'prototype'];

const valid = {
  id: 'e-1',
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-42',
  clock: { 'phone-a': 5 },
  hlc: '001700000000000-000000-phone-a',
  origin: 'phone-a',
  data: { title: 'Buy milk' },
  metadata: { tenant: 'acme' },
};

const problems = (input: unknown) => {
  const result = validateEvent(input);
  return result.ok ? [] : result.problems.map((p) => `${p.path}:${p.code}`);
};

const U = coreErrors.EVENT_UNSTORABLE.code;

/** Independent oracle: text survives a UTF-8 round trip (no lone surrogate) and has no U+0000. */
const storable = (text: string): boolean =>
  !text.includes('\u0000') && new TextDecoder().decode(new TextEncoder().encode(text)) === text;

describe('text Postgres cannot store (U+0000, unpaired surrogates)', () => {
  it('is CONCORD_EVENT_UNSTORABLE with the path of the string, wherever it is', () => {
    expect(U).toBe('CONCORD_EVENT_UNSTORABLE');
    expect(problems({ ...valid, data: { title: 'a\u0000b' } })).toEqual([`data.title:${U}`]);
    expect(problems({ ...valid, data: { tags: ['ok', 'x\ud800'] } })).toEqual([`data.tags[1]:${U}`]);
    expect(problems({ ...valid, data: { deep: { 'odd key': '\udc00' } } })).toEqual([
      `data.deep["odd key"]:${U}`,
    ]);
    expect(problems({ ...valid, data: { 'k\u0000': 1 } })).toEqual([`data["k\\u0000"]:${U}`]);
    expect(problems({ ...valid, metadata: { note: '\udbff' } })).toEqual([`metadata.note:${U}`]);
    expect(problems({ ...valid, aggregateId: 'task-\ud83d' })).toEqual([`aggregateId:${U}`]);
    expect(problems({ ...valid, origin: '\ude00' })).toEqual([`origin:${U}`]);
    expect(problems({ ...valid, hlc: '001700000000000-000000-n\u0000' })).toEqual([`hlc:${U}`]);
    expect(problems({ ...valid, clock: { 'p\ud800': 1 } })).toEqual([`clock["p\\ud800"]:${U}`]);
    // U+0000 in an id is a control character, as before.
    expect(problems({ ...valid, id: 'a\u0000' })).toEqual([`id:${coreErrors.EVENT_BAD_ID.code}`]);
  });

  it('accepts surrogate pairs, astral text and escaped look-alikes', () => {
    expect(
      problems({ ...valid, aggregateId: 'task-😀', data: { s: '😀𝄞', t: '\\u0000', u: '\\ud800' } }),
    ).toEqual([]);
  });

  it('is reported for CloudEvents under CloudEvents names', () => {
    const result = validateEvent({
      specversion: '1.0',
      id: 'ce-1',
      source: '/erp',
      type: 'PriceChanged',
      subject: 'sku-\udfff',
      aggregatetype: 'product',
      data: { price: 'x\u0000' },
    });
    expect(result.ok ? [] : result.problems.map((p) => `${p.path}:${p.code}`)).toEqual([
      `subject:${U}`,
      `data.price:${U}`,
    ]);
  });

  it('never takes down the batch’s valid events', () => {
    const batch = validateBatch({
      events: [
        { ...valid, id: 'bad', data: { s: '\ud800' } },
        { ...valid, id: 'good' },
      ],
    });
    expect(batch.ok && batch.results.map((r) => r.ok)).toEqual([false, true]);
  });

  it('property: a string in data is rejected exactly when it is not storable (UTF-8 round-trip oracle)', () => {
    fc.assert(
      // Member names __proto__, constructor and prototype are refused for another reason (reserved).
      fc.property(
        fc.string({ unit: 'binary', maxLength: 12 }).filter((text) => !RESERVED.includes(text)),
        (text) => {
          const found = problems({ ...valid, data: { s: text, [text]: 1 } });
          expect(found.length === 0).toBe(storable(text));
          if (!storable(text)) expect(found[0]).toBe(`data.s:${U}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: one bad code unit anywhere in nested data is reported at its exact path', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
    const good = fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => !s.includes('\u0000'));
    const bad = fc.oneof(
      fc.constant('\u0000'),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
    );
    // A path of member names and array indexes, and where in the string the bad unit goes.
    const step = fc.oneof(key, fc.nat({ max: 3 }));
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 5 }),
        good,
        bad,
        fc.nat(),
        fc.dictionary(key, good),
        (path, text, unit, at, siblings) => {
          const cut = at % (text.length + 1);
          let value: unknown = text.slice(0, cut) + unit + text.slice(cut);
          let expected = '';
          for (let i = path.length - 1; i >= 0; i--) {
            const s = path[i] as string | number;
            value = typeof s === 'number' ? [...Array<string>(s).fill('ok'), value] : { [s]: value };
          }
          for (const s of path) expected += typeof s === 'number' ? `[${s}]` : `.${s}`;
          const first = path[0];
          const data = typeof first === 'string' ? { ...siblings, ...(value as object) } : { list: value };
          const where = typeof first === 'string' ? `data${expected}` : `data.list${expected}`;
          expect(problems({ ...valid, data })).toEqual([`${where}:${U}`]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
