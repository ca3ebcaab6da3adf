import type { Conflict } from '@concord/core/conflict';
import { describe, expect, it } from 'vitest';
import { humanResult, parseHumanDecision } from '../src/index.js';

const conflict: Conflict = {
  id: 'e3',
  event: {
    id: 'e3',
    type: 'TaskUpdated',
    aggregateType: 'task',
    aggregateId: 't1',
    data: { title: 'c', price: 3, done: true },
  },
  relation: 'stale_base',
  currentVersion: 2,
  baseVersion: 1,
  changedFields: ['done', 'price', 'title'],
  concurrentFields: ['price', 'title'],
  overlappingFields: ['price', 'title'],
  local: {
    price: { version: 2, eventId: 'e2', value: 2 },
    title: { version: 2, eventId: 'e2', value: 'b' },
  },
};

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: unknown; details?: unknown }).code;
  }
  return undefined;
};

describe('human decisions', () => {
  it('parses choose, per-field picks and values', () => {
    expect(parseHumanDecision({ choose: 'remote', userId: 'u1', note: 'ok' })).toEqual({
      choose: 'remote',
      fields: {},
      userId: 'u1',
      note: 'ok',
    });
    expect(
      parseHumanDecision({ fields: { price: 'local', title: { value: 'agreed' } }, userId: 'u2' }),
    ).toEqual({
      fields: { price: { kind: 'local' }, title: { kind: 'value', value: 'agreed' } },
      userId: 'u2',
    });
  });

  it('reports every problem of an invalid body with CONCORD_DECISION_INVALID', () => {
    let details: unknown;
    try {
      parseHumanDecision({ choose: 'mine', fields: { price: 'yes' }, extra: 1, note: 5 });
    } catch (error) {
      expect((error as { code: string }).code).toBe('CONCORD_DECISION_INVALID');
      details = (error as { details: unknown }).details;
    }
    expect(details).toEqual({
      problems: [
        { path: 'extra', message: 'unknown key' },
        { path: 'choose', message: 'must be "local" or "remote"' },
        { path: 'userId', message: 'is required: a non-empty string of at most 200 characters' },
        { path: 'note', message: 'must be a string of at most 2000 characters' },
        { path: 'fields.price', message: 'must be "local", "remote" or { "value": … }' },
      ],
    });
    expect(codeOf(() => parseHumanDecision('local'))).toBe('CONCORD_DECISION_INVALID');
    expect(codeOf(() => parseHumanDecision({ userId: 'u1' }))).toBe('CONCORD_DECISION_INVALID');
    expect(codeOf(() => parseHumanDecision({ userId: 'u1', fields: { a: { value: 1, x: 2 } } }))).toBe(
      'CONCORD_DECISION_INVALID',
    );
  });

  it('turns a decision into per-field choices over the conflict', () => {
    const local = humanResult(conflict, parseHumanDecision({ choose: 'local', userId: 'u1', note: 'keep' }));
    expect(local.fields).toEqual({ price: 2, title: 'b' });
    expect(local.choices.map((c) => c.source)).toEqual(['local', 'local']);
    expect(local.reasons).toEqual(['decided by u1', 'note: keep']);

    const mixed = humanResult(
      conflict,
      parseHumanDecision({ choose: 'remote', fields: { title: { value: 'agreed' } }, userId: 'u1' }),
    );
    expect(mixed.fields).toEqual({ price: 3, title: 'agreed' });
    expect(mixed.choices.map((c) => [c.field, c.source])).toEqual([
      ['price', 'remote'],
      ['title', 'merged'],
    ]);
    expect(mixed.decision).toBe('resolved');
  });

  it('refuses fields the conflict does not have, and incomplete per-field decisions', () => {
    expect(
      codeOf(() => humanResult(conflict, parseHumanDecision({ fields: { done: 'remote' }, userId: 'u' }))),
    ).toBe('CONCORD_DECISION_UNKNOWN_FIELD');
    expect(
      codeOf(() => humanResult(conflict, parseHumanDecision({ fields: { price: 'remote' }, userId: 'u' }))),
    ).toBe('CONCORD_DECISION_INCOMPLETE');
  });
});

describe('human decisions Postgres cannot store', () => {
  const problemsOf = (body: unknown): unknown => {
    try {
      parseHumanDecision(body);
    } catch (error) {
      expect((error as { code: string }).code).toBe('CONCORD_DECISION_INVALID');
      return (error as { details: { problems: unknown } }).details.problems;
    }
    return undefined;
  };
  const cannotStore = 'holds U+0000 or an unpaired surrogate, which cannot be stored';

  it('refuses U+0000 and unpaired surrogates anywhere in the body, with their paths', () => {
    expect(problemsOf({ userId: 'u1', fields: { price: { value: 'a\u0000b' } } })).toEqual([
      { path: 'fields.price.value', message: cannotStore },
    ]);
    expect(problemsOf({ userId: 'u1', fields: { price: { value: { deep: ['\ud800'] } } } })).toEqual([
      { path: 'fields.price.value.deep[0]', message: cannotStore },
    ]);
    expect(problemsOf({ userId: 'u\u0000', choose: 'local' })).toEqual([
      { path: 'userId', message: cannotStore },
    ]);
    expect(problemsOf({ userId: 'u1', choose: 'local', note: 'x\udc00' })).toEqual([
      { path: 'note', message: cannotStore },
    ]);
    expect(problemsOf({ userId: 'u1', fields: { 'p\u0000': 'local' } })).toEqual([
      { path: 'fields["p\\u0000"]', message: `member name ${cannotStore}` },
    ]);
  });

  it('refuses a member named __proto__ or constructor, as event data does (no field has such a name)', () => {
    // JSON.parse (HTTP bodies parse alike) makes `__proto__` an own member; assigned, it would vanish.
    expect(problemsOf(JSON.parse('{"userId":"u1","fields":{"__proto__":"local"}}'))).toEqual([
      { path: 'fields.__proto__', message: 'member name "__proto__" is reserved' },
    ]);
    expect(problemsOf({ userId: 'u1', fields: { x: { value: { constructor: 1 } } } })).toEqual([
      { path: 'fields.x.value.constructor', message: 'member name "constructor" is reserved' },
    ]);
  });

  it('refuses a value that is not JSON (1e400 parses to Infinity)', () => {
    expect(problemsOf({ userId: 'u1', fields: { price: { value: JSON.parse('1e400') as number } } })).toEqual(
      [{ path: 'fields.price.value', message: 'Infinity is not a JSON number' }],
    );
  });
});
