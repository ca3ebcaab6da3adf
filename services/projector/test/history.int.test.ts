import { changeSetOf } from '@concord/core/conflict';
import { createResolutionStore } from '@concord/outbox';
import { describe, expect, it } from 'vitest';
import { unique, useHarness } from './support/harness.js';
import { ev } from './support/projection.js';

/** `GET /v1/aggregates/:type/:id/history`: events of every outcome, their outcomes and decisions. */
describe('aggregate history', () => {
  const harness = useHarness({ cachedTypes: [] });

  const history = async (path: string) => {
    const response = await harness().http.app.inject({ method: 'GET', url: path });
    // Bodies are whatever JSON the route answered; the test asserts on their shape.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: response.statusCode, body: response.json<any>() };
  };

  it('lists an aggregate’s events, the resolver’s changes among them, in commit order with a cursor', async () => {
    const h = harness();
    const task = `task-${unique()}`;
    const first = ev('task', task, { title: 'a' });
    const second = ev('task', task, { title: 'b' }, { baseVersion: 1 });
    const third = ev('task', task, { title: 'c' }, { baseVersion: 1 });
    const ahead = ev('task', task, { title: 'z' }, { baseVersion: 9 });
    await h.append([first, second]);
    await h.append([ev('task', `other-${unique()}`, { title: 'x' }), third, ahead]);
    // The resolver's decision on the conflict: a change of its own, and the event's outcome.
    const resolutions = createResolutionStore({ schema: h.t.schema });
    await h.t.db.withTransaction(async (tx) => {
      const state = await resolutions.lockAggregate(tx, 'task', task);
      await resolutions.applyResolution(tx, {
        aggregateType: 'task',
        aggregateId: task,
        state,
        change: changeSetOf(third, { title: 'c' }),
        eventId: `${third.id}:resolution`,
        type: 'ConflictResolved',
        conflictId: third.id,
        outcome: 'resolved',
      });
      await h.store.recordOutcome(tx, {
        eventId: third.id,
        outcome: 'resolved',
        details: { conflictId: third.id, decision: { strategy: 'last_write_wins', ledgerId: 1 } },
        version: 3,
      });
    });

    const page1 = await history(`/v1/aggregates/task/${task}/history?limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body).toMatchObject({ type: 'task', id: task, next: expect.any(String) });
    type Entry = { id: string; outcome: string; version: number | null };
    expect((page1.body.events as Entry[]).map((e) => [e.id, e.outcome])).toEqual([
      [first.id, 'applied'],
      [second.id, 'applied'],
    ]);
    const page2 = await history(`/v1/aggregates/task/${task}/history?after=${page1.body.next}&limit=10`);
    expect(page2.body.next).toBeNull();
    expect((page2.body.events as Entry[]).map((e) => [e.id, e.outcome, e.version])).toEqual([
      [third.id, 'resolved', 3],
      [ahead.id, 'rejected', null],
      [`${third.id}:resolution`, 'resolved', 3],
    ]);
    const [conflict, rejected, resolution] = page2.body.events;
    expect(conflict).toMatchObject({
      conflictId: third.id,
      event: { id: third.id, data: { title: 'c' }, baseVersion: 1 },
      outcomes: [
        { outcome: 'conflict', details: { overlappingFields: ['title'] } },
        { outcome: 'resolved', details: { conflictId: third.id } },
      ],
      decisions: [{ strategy: 'last_write_wins', ledgerId: 1 }],
    });
    expect(rejected.outcomes).toEqual([
      expect.objectContaining({ outcome: 'rejected', details: { error: expect.any(Object) } }),
    ]);
    expect(rejected.decisions).toEqual([]);
    expect(resolution).toMatchObject({ type: 'ConflictResolved', event: { data: { title: 'c' } } });
    // A client goes on from the last event's cursor when more is written.
    const later = await history(`/v1/aggregates/task/${task}/history?after=${resolution.cursor}`);
    expect(later.body).toEqual({ type: 'task', id: task, events: [], next: null });
  });

  it('answers an unknown aggregate 404 and a bad limit or cursor 400', async () => {
    const missing = await history(`/v1/aggregates/task/none-${unique()}/history`);
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'CONCORD_AGGREGATE_NOT_FOUND' } } });
    const nul = await history(`/v1/aggregates/task/a%00b/history`);
    expect(nul).toMatchObject({ status: 404, body: { error: { code: 'CONCORD_AGGREGATE_NOT_FOUND' } } });
    for (const limit of ['0', '501', 'x', '1.5']) {
      const bad = await history(`/v1/aggregates/task/t/history?limit=${limit}`);
      expect(bad).toMatchObject({ status: 400, body: { error: { code: 'CONCORD_REQUEST_INVALID' } } });
    }
    const cursor = await history(`/v1/aggregates/task/t/history?after=bm90LWEtY3Vyc29y`);
    expect(cursor).toMatchObject({ status: 400, body: { error: { code: 'CONCORD_INVALID_CURSOR' } } });
  });
});
