import { describe, expect, it } from 'vitest';
import { answer, baseVersionFor, nextBatch, release, requeueAll, settle } from '../src/queue.js';
import { foldApplied, isConfirmed, localState } from '../src/state.js';
import type { PendingChange } from '../src/types.js';

const change = (seq: number, extra: Partial<PendingChange> = {}): PendingChange => ({
  seq,
  id: `c${seq}`,
  aggregateType: 'task',
  aggregateId: 't1',
  type: 'TaskUpdated',
  data: { [`f${seq}`]: seq },
  baseVersion: 1,
  hlc: `00000000000000${seq}-000000-o`,
  origin: 'o',
  status: 'queued',
  ...extra,
});

describe('local state', () => {
  const confirmed = {
    aggregateType: 'task',
    aggregateId: 't1',
    version: 3,
    fields: { title: 'a', tags: ['x'] },
  };

  it('puts queued, sent and conflicting changes on top in queue order; not those in review or settled', () => {
    const pending = [
      change(3, { data: { title: 'third' }, status: 'conflict' }),
      change(1, { data: { title: 'first', done: true } }),
      change(2, { data: { title: 'second' }, status: 'sent', version: 4 }),
      change(4, { data: { title: 'review' }, status: 'pending_review' }),
      change(5, { data: { title: 'settled' }, status: 'settled', version: 5 }),
    ];
    expect(localState('task', 't1', confirmed, pending)).toEqual({
      aggregateType: 'task',
      aggregateId: 't1',
      version: 3,
      fields: { title: 'third', tags: ['x'], done: true },
      pending: 3,
    });
  });

  it('is undefined for an aggregate nobody confirmed or changed; a null is a value (patch semantics)', () => {
    expect(localState('task', 't1', undefined, [])).toBeUndefined();
    expect(localState('task', 't1', confirmed, [change(1, { data: { title: null } })])?.fields).toEqual({
      title: null,
      tags: ['x'],
    });
  });

  it('folds feed events once, in version order', () => {
    const next = foldApplied(confirmed, {
      aggregateType: 'task',
      aggregateId: 't1',
      version: 4,
      data: { title: 'b' },
    });
    expect(next).toEqual({ ...confirmed, version: 4, fields: { title: 'b', tags: ['x'] } });
    expect(
      foldApplied(next, { aggregateType: 'task', aggregateId: 't1', version: 4, data: { title: 'c' } }),
    ).toBe(next);
  });

  it('takes a change as confirmed once the confirmed version reaches the version it holds', () => {
    expect(isConfirmed(change(1, { status: 'sent', version: 4 }), 3)).toBe(false);
    expect(isConfirmed(change(1, { status: 'sent', version: 4 }), 4)).toBe(true);
    expect(isConfirmed(change(1, { status: 'settled', version: 4 }), 5)).toBe(true);
    expect(isConfirmed(change(1, { status: 'conflict', version: 4 }), 9)).toBe(false);
  });
});

describe('queue', () => {
  it('batches in order, one change per aggregate, none ahead of an unanswered predecessor', () => {
    const pending = [
      change(2, { after: 'c1' }),
      change(1),
      change(3, { aggregateId: 't2' }),
      change(4, { aggregateId: 't3', status: 'conflict' }),
      change(5, { aggregateId: 't4' }),
    ];
    expect(nextBatch(pending, 10).map((c) => c.id)).toEqual(['c1', 'c3', 'c5']);
    expect(nextBatch(pending, 2).map((c) => c.id)).toEqual(['c1', 'c3']);
  });

  it('bases a new change on a clean apply of ours the feed has not confirmed yet', () => {
    expect(baseVersionFor(3, [change(1, { status: 'sent', outcome: 'applied', version: 5 })])).toBe(5);
    expect(baseVersionFor(3, [change(1, { status: 'sent', outcome: 'merged', version: 5 })])).toBe(3);
  });

  it('turns answers into states; a duplicate counts as the outcome the event has', () => {
    const c = change(1, { after: 'c0' });
    expect(
      answer(c, { id: 'c1', aggregateType: 'task', aggregateId: 't1', outcome: 'applied', version: 2 })
        .change,
    ).toEqual({
      ...change(1),
      status: 'sent',
      outcome: 'applied',
      version: 2,
    });
    const duplicate = answer(c, {
      id: 'c1',
      aggregateType: 'task',
      aggregateId: 't1',
      outcome: 'duplicate',
      originalOutcome: 'merged',
      version: 3,
    });
    expect(duplicate.change).toMatchObject({ status: 'sent', outcome: 'merged', version: 3 });
    expect(duplicate.notice).toMatchObject({ id: 'c1', outcome: 'merged', version: 3 });
    const base = { id: 'c1', aggregateType: 'task', aggregateId: 't1' };
    expect(answer(c, { ...base, outcome: 'conflict', conflictId: 'c1', version: 2 }).change?.status).toBe(
      'conflict',
    );
    expect(answer(c, { ...base, outcome: 'duplicate', originalOutcome: 'resolved' }).change?.status).toBe(
      'conflict',
    );
    expect(answer(c, { ...base, outcome: 'pending_review' }).change?.status).toBe('pending_review');
    expect(answer(c, { ...base, outcome: 'rejected', error: { code: 'X', message: 'no' } })).toEqual({
      change: undefined,
      notice: { ...base, outcome: 'rejected', error: { code: 'X', message: 'no' } },
    });
  });

  it('releases successors, rebased only after a clean apply', () => {
    const first = change(1);
    const second = change(2, { after: 'c1' });
    const applied = answer(first, {
      id: 'c1',
      aggregateType: 'task',
      aggregateId: 't1',
      outcome: 'applied',
      version: 2,
    });
    expect(release([first, second], first, applied)).toEqual([{ ...change(2), baseVersion: 2 }]);
    const merged = answer(first, {
      id: 'c1',
      aggregateType: 'task',
      aggregateId: 't1',
      outcome: 'merged',
      version: 4,
    });
    expect(release([first, second], first, merged)).toEqual([change(2)]);
  });

  it('settles a conflict by the server’s decision', () => {
    const held = change(1, { status: 'conflict', outcome: 'conflict', conflictId: 'c1' });
    expect(settle(held, { outcome: 'conflict' })).toBeUndefined();
    expect(
      settle(held, { outcome: 'resolved', decision: { appliedEventId: 'c1:resolution', version: 7 } })
        ?.change,
    ).toMatchObject({ status: 'settled', outcome: 'resolved', version: 7 });
    // Decided for the stored side: nothing applied, the change is dropped.
    expect(settle(held, { outcome: 'resolved', decision: { strategy: 'lww' } })).toMatchObject({
      change: undefined,
      notice: { outcome: 'resolved', decision: { strategy: 'lww' } },
    });
    expect(settle(held, { outcome: 'pending_review' })?.change?.status).toBe('pending_review');
    const review = change(1, { status: 'pending_review', outcome: 'pending_review' });
    expect(settle(review, { outcome: 'pending_review' })).toBeUndefined();
    expect(
      settle(review, {
        outcome: 'rejected',
        details: { error: { code: 'CONCORD_POLICY_REJECTED', message: 'no' } },
        decision: { appliedEventId: 'c1:resolution', version: 9 },
      }),
    ).toMatchObject({
      change: { status: 'settled', version: 9 },
      notice: { outcome: 'rejected', error: { code: 'CONCORD_POLICY_REJECTED' } },
    });
  });
});

describe('requeueAll (a server that lost the client’s cursor)', () => {
  it('queues every change again, each aggregate’s chained in queue order, the first on version 0', () => {
    const requeued = requeueAll([
      change(3, { status: 'conflict', outcome: 'conflict', conflictId: 'c3', version: 4 }),
      change(1, { status: 'sent', outcome: 'applied', version: 2 }),
      change(2, { aggregateId: 't2', status: 'settled', outcome: 'resolved', version: 7 }),
      change(4, { after: 'c3', baseVersion: 5 }),
    ]);
    expect(requeued.map((c) => [c.id, c.status, c.baseVersion, c.after])).toEqual([
      ['c1', 'queued', 0, undefined],
      ['c2', 'queued', 0, undefined],
      ['c3', 'queued', 0, 'c1'],
      ['c4', 'queued', 0, 'c3'],
    ]);
    for (const c of requeued) expect(c).not.toHaveProperty('outcome');
    expect(requeued[2]).not.toHaveProperty('conflictId');
    // Pushed one per aggregate at a time, in queue order.
    expect(nextBatch(requeued, 10).map((c) => c.id)).toEqual(['c1', 'c2']);
  });
});
