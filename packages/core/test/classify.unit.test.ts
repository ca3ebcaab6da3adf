import { describe, expect, it } from 'vitest';
import { applyPatch, classify, toConflict, type AggregateState } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';

const event = (over: Partial<EventEnvelope>): EventEnvelope => ({
  id: 'e',
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 't1',
  data: {},
  ...over,
});

/** t1 after three events: v1 sets title+done, v2 sets title, v3 sets tags. */
const history = (): AggregateState => {
  let s = applyPatch(undefined, event({ id: 'e1', data: { title: 'a', done: false } }));
  s = applyPatch(
    s,
    event({ id: 'e2', baseVersion: 1, data: { title: 'b' }, hlc: '000000000000010-000000-x' }),
  );
  s = applyPatch(s, event({ id: 'e3', baseVersion: 2, data: { tags: ['x'] } }));
  return s;
};

describe('classify with base versions', () => {
  it('applies a new aggregate at version 1, rejects a base ahead of it', () => {
    expect(classify(undefined, event({ data: { b: 1, a: 2 } }))).toEqual({
      outcome: 'applied',
      version: 1,
      changedFields: ['a', 'b'],
    });
    expect(classify(undefined, event({ baseVersion: 0, data: {} })).outcome).toBe('applied');
    expect(classify(undefined, event({ baseVersion: 2 }))).toEqual({
      outcome: 'rejected',
      code: 'CONCORD_CONFLICT_BASE_VERSION_AHEAD',
      reason: "baseVersion 2 is ahead of the aggregate's version 0",
    });
  });

  it('applies on the current version, rejects ahead, applies blind writes', () => {
    const s = history();
    expect(s.version).toBe(3);
    expect(classify(s, event({ baseVersion: 3, data: { title: 'c' } }))).toEqual({
      outcome: 'applied',
      version: 4,
      changedFields: ['title'],
    });
    expect(classify(s, event({ baseVersion: 4 })).outcome).toBe('rejected');
    expect(classify(s, event({ data: { title: 'c' } })).outcome).toBe('applied');
  });

  it('merges a stale write touching fields unchanged since its base', () => {
    expect(classify(history(), event({ baseVersion: 1, data: { done: true } }))).toEqual({
      outcome: 'merged',
      version: 4,
      changedFields: ['done'],
      relation: 'stale_base',
      concurrentFields: ['tags', 'title'],
    });
  });

  it('conflicts when a stale write overlaps later changes, with the local side', () => {
    const result = classify(history(), event({ baseVersion: 1, data: { title: 'z', done: true } }));
    expect(result).toEqual({
      outcome: 'conflict',
      version: 3,
      details: {
        relation: 'stale_base',
        currentVersion: 3,
        baseVersion: 1,
        changedFields: ['done', 'title'],
        concurrentFields: ['tags', 'title'],
        overlappingFields: ['title'],
        local: { title: { value: 'b', version: 2, eventId: 'e2', hlc: '000000000000010-000000-x' } },
      },
    });
    // base 2 has seen title's change: only tags are concurrent now.
    expect(classify(history(), event({ baseVersion: 2, data: { title: 'z' } })).outcome).toBe('merged');
    const conflict =
      result.outcome === 'conflict'
        ? toConflict({ id: 'c1', event: event({}), details: result.details })
        : undefined;
    expect(conflict?.id).toBe('c1');
    expect(conflict?.overlappingFields).toEqual(['title']);
  });
});

describe('classify with version vectors', () => {
  const a1 = event({ id: 'a1', origin: 'a', clock: { a: 1 }, data: { title: 'A', n: 1 } });
  const b1 = event({ id: 'b1', origin: 'b', clock: { b: 1 }, data: { done: true } });
  const state = () => applyPatch(applyPatch(undefined, a1), b1);

  it('applies a dominating clock', () => {
    expect(state().vector).toEqual({ a: 1, b: 1 });
    expect(classify(state(), event({ origin: 'a', clock: { a: 2, b: 1 }, data: { title: 'A2' } }))).toEqual({
      outcome: 'applied',
      version: 3,
      changedFields: ['title'],
    });
  });

  it('supersedes a dominated or equal clock', () => {
    expect(classify(state(), event({ clock: { a: 1 }, data: { title: 'old' } }))).toMatchObject({
      outcome: 'superseded',
      version: 2,
    });
    expect(classify(state(), event({ clock: { a: 1, b: 1 } })).outcome).toBe('superseded');
  });

  it('merges a concurrent clock touching disjoint fields (dots decide what was seen)', () => {
    // c saw a1 only: b1 (done) is concurrent, title is not.
    expect(classify(state(), event({ origin: 'c', clock: { a: 1, c: 1 }, data: { title: 'C' } }))).toEqual({
      outcome: 'merged',
      version: 3,
      changedFields: ['title'],
      relation: 'concurrent',
      concurrentFields: ['done'],
    });
  });

  it('conflicts on a concurrent clock touching overlapping fields', () => {
    const result = classify(
      state(),
      event({ origin: 'c', clock: { a: 1, c: 1 }, data: { done: false, n: 2 } }),
    );
    expect(result.outcome).toBe('conflict');
    if (result.outcome !== 'conflict') return;
    expect(result.details.overlappingFields).toEqual(['done']);
    expect(result.details.local['done']).toEqual({
      value: true,
      version: 2,
      eventId: 'b1',
      origin: 'b',
      dot: { node: 'b', counter: 1 },
    });
  });

  it('falls back to base versions when the state has no vector yet', () => {
    const s = applyPatch(undefined, event({ data: { x: 1 } }));
    expect(classify(s, event({ clock: { a: 1 }, baseVersion: 0, data: { x: 2 } })).outcome).toBe('conflict');
    expect(classify(s, event({ clock: { a: 1 }, baseVersion: 1, data: { x: 2 } })).outcome).toBe('applied');
  });
});

describe('applyPatch', () => {
  it('produces the next state without touching the previous one', () => {
    const s1 = applyPatch(
      undefined,
      event({ id: 'a1', origin: 'a', clock: { a: 1 }, data: { t: 1 }, metadata: { source: 'erp' } }),
    );
    const s2 = applyPatch(s1, event({ id: 'b1', origin: 'b', clock: { b: 3 }, data: { u: 2 } }));
    expect(s1).toEqual({
      version: 1,
      vector: { a: 1 },
      fields: { t: 1 },
      fieldVersions: {
        t: { version: 1, eventId: 'a1', origin: 'a', source: 'erp', dot: { node: 'a', counter: 1 } },
      },
    });
    expect(s2.version).toBe(2);
    expect(s2.vector).toEqual({ a: 1, b: 3 });
    expect(s2.fields).toEqual({ t: 1, u: 2 });
    expect(s2.fieldVersions['t']?.version).toBe(1);
    expect(s2.fieldVersions['u']?.version).toBe(2);
  });

  it('bounds the stored vector', () => {
    let s: AggregateState | undefined;
    for (let i = 0; i < 5; i++)
      s = applyPatch(s, event({ origin: `n${i}`, clock: { [`n${i}`]: i + 1 }, data: { f: i } }), {
        maxVectorEntries: 3,
      });
    expect(s?.vector).toEqual({ n2: 3, n3: 4, n4: 5 });
  });
});
