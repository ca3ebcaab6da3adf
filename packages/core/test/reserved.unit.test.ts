import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreErrors } from '@concord/core';
import { escapeUnstorable, isUnstorableText, validateEvent } from '@concord/core/envelope';

const valid = {
  id: 'e-1',
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-42',
  data: { title: 'Buy milk' },
};

/** Parsed as a broker payload or a (non-secure) HTTP body is: `__proto__` becomes an own member. */
const parsed = (json: string): unknown => JSON.parse(json);

const problems = (input: unknown) => {
  const result = validateEvent(input);
  return result.ok ? [] : result.problems.map((p) => `${p.path}:${p.code}`);
};

const R = coreErrors.EVENT_RESERVED_KEY.code;
const base = JSON.stringify(valid)
  .slice(1, -1)
  .replace(/,"data":\{[^}]*\}/, '');

describe('reserved member names (__proto__, constructor, prototype)', () => {
  it('are CONCORD_EVENT_RESERVED_KEY with their path in data, metadata and clock, at any depth', () => {
    expect(R).toBe('CONCORD_EVENT_RESERVED_KEY');
    expect(problems(parsed(`{${base},"data":{"__proto__":{"x":1}}}`))).toEqual([`data.__proto__:${R}`]);
    expect(problems(parsed(`{${base},"data":{"title":"a","constructor":"b"}}`))).toEqual([
      `data.constructor:${R}`,
    ]);
    expect(problems(parsed(`{${base},"data":{"a":[{"b":{"prototype":1}}]}}`))).toEqual([
      `data.a[0].b.prototype:${R}`,
    ]);
    expect(problems(parsed(`{${base},"data":{},"metadata":{"__proto__":"x"}}`))).toEqual([
      `metadata.__proto__:${R}`,
    ]);
    expect(problems(parsed(`{${base},"data":{},"clock":{"__proto__":1}}`))).toEqual([`clock.__proto__:${R}`]);
    expect(problems(parsed(`{${base},"data":{},"clock":{"constructor":1}}`))).toEqual([
      `clock.constructor:${R}`,
    ]);
  });

  it('are refused in CloudEvents too, and as values they are plain data', () => {
    const cloud = {
      specversion: '1.0',
      id: 'c-1',
      source: 'phone',
      type: 'T',
      subject: 's',
      aggregatetype: 'task',
    };
    const json = JSON.stringify(cloud).slice(0, -1);
    expect(problems(parsed(`${json},"data":{"__proto__":1}}`))).toEqual([`data.__proto__:${R}`]);
    expect(problems(parsed(`${json},"metadata":"{\\"prototype\\":1}","data":{}}`))).toEqual([
      `metadata.prototype:${R}`,
    ]);
    expect(problems({ ...valid, data: { name: '__proto__', kind: 'constructor' } })).toEqual([]);
    expect(problems({ ...valid, data: { __proto: 1, Constructor: 2, prototypes: 3 } })).toEqual([]);
  });
});

describe('escapeUnstorable', () => {
  it('writes U+0000 and unpaired surrogates out as JSON does, and leaves other text alone', () => {
    expect(escapeUnstorable('a\u0000b')).toBe('a\\u0000b');
    expect(escapeUnstorable('x\ud800')).toBe('x\\ud800');
    expect(escapeUnstorable('\udc00y')).toBe('\\udc00y');
    expect(escapeUnstorable('\udbff\ud800\udc00')).toBe('\\udbff\ud800\udc00');
    expect(escapeUnstorable('😀 ok \\u0000')).toBe('😀 ok \\u0000');
  });

  it('always gives storable text, unchanged when it was storable', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const escaped = escapeUnstorable(text);
        expect(isUnstorableText(escaped)).toBe(false);
        if (!isUnstorableText(text)) expect(escaped).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});
