import { dlqTopic, encodeJson } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import type { ConflictResolvedMessage } from '@concord/core/messages';
import { describe, expect, it } from 'vitest';
import { unique, useHarness, waitFor } from './support/harness.js';
import { applied, counter, ev, get, inboxHas, pgRow, redisRecord } from './support/projection.js';

describe('projector on Postgres and Redis', () => {
  const harness = useHarness({ cachedTypes: ['task'] });

  it('projects applied events into Postgres and the Redis cache, with checkpoints and projected messages', async () => {
    const h = harness();
    const task = `task-${unique()}`;
    const note = `note-${unique()}`;
    await h.append([
      ev('task', task, { title: 'a', done: false }),
      ev('task', task, { done: true }, { baseVersion: 1 }),
      ev('note', note, { body: 'hello' }),
    ]);
    await waitFor('task v2 projected', async () => (await pgRow(h, 'task', task))?.version === 2);
    await waitFor('note projected', async () => (await pgRow(h, 'note', note))?.version === 1);

    const truth = await h.store.getAggregate(h.t.db, 'task', task);
    expect(await pgRow(h, 'task', task)).toEqual({
      version: 2,
      fields: { title: 'a', done: true },
      field_versions: truth?.fieldVersions,
    });
    expect(await redisRecord(h, 'task', task)).toMatchObject({
      version: 2,
      fields: { title: 'a', done: true },
    });
    expect(await redisRecord(h, 'note', note)).toBeUndefined();

    const { status, body } = await get(h, 'task', task);
    expect(status).toBe(200);
    expect(body).toEqual({
      type: 'task',
      id: task,
      version: 2,
      fields: { title: 'a', done: true },
      fieldVersions: truth?.fieldVersions,
      updatedAt: expect.any(String),
    });

    await waitFor('projected messages', () => h.projected.filter((p) => p.aggregateId === task).length === 2);
    await waitFor('projected note', () => h.projected.some((p) => p.aggregateId === note));
    expect(h.projected.filter((p) => p.aggregateId === task).map((p) => [p.version, p.backends])).toEqual([
      [1, ['postgres', 'redis']],
      [2, ['postgres', 'redis']],
    ]);
    expect(h.projected.find((p) => p.aggregateId === note)).toMatchObject({
      kind: 'projected',
      aggregateType: 'note',
      version: 1,
      fields: { body: 'hello' },
      backends: ['postgres'],
    });

    const checkpoints = (
      await h.http.app.inject({ method: 'GET', url: '/v1/projections/checkpoints' })
    ).json();
    expect(checkpoints.checkpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          projection: 'note',
          backend: 'postgres',
          lastAggregateId: note,
          lastVersion: 1,
        }),
        expect.objectContaining({ projection: 'task', backend: 'redis' }),
      ]),
    );
    const metrics = await h.metrics.registry.metrics();
    expect(metrics).toMatch(/concord_projector_projections_total\{backend="redis",result="applied"/);
    expect(metrics).toMatch(/concord_projector_lag_seconds_count\{[^}]*projection="task"/);
    // `note` is no type a backend names: its series are those of every such type.
    expect(metrics).toMatch(/concord_projector_checkpoint_version\{projection="other",backend="postgres"/);
  });

  // Issue 16: each new aggregateType added 17 projector series that were never removed.
  it('labels metrics with known projections only: a new aggregate type adds no series', async () => {
    const h = harness();
    const types = Array.from({ length: 20 }, (_, i) => `zz${i}-${unique()}`);
    await h.append(types.map((type) => ev(type, `${type}-1`, { n: 1 })));
    for (const type of types)
      await waitFor(`${type} projected`, async () => (await pgRow(h, type, `${type}-1`))?.version === 1);
    const series = (await h.metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('concord_projector_'));
    expect(series.filter((line) => types.some((type) => line.includes(type)))).toEqual([]);
    expect(series.some((line) => line.includes('projection="other"'))).toBe(true);
    expect(series.some((line) => line.includes('projection="task"'))).toBe(true);
  });

  it('does not regress under redelivery and reordering', async () => {
    const h = harness();
    const id = `task-${unique()}`;
    const v1 = applied('task', id, 1, { title: 'one' });
    const v2 = applied('task', id, 2, { title: 'two' });
    const v3 = applied('task', id, 3, { title: 'three' });
    await h.publishApplied(`${id}:2`, v2);
    await waitFor('v2', async () => (await pgRow(h, 'task', id))?.version === 2);
    // An older version under a new message id: the version guard keeps v2 in both backends.
    await h.publishApplied(`${id}:1`, v1);
    // The same message again: the inbox absorbs it.
    const duplicatesBefore = await counter(h, 'concord_projector_messages_total', { result: 'duplicate' });
    await h.publishApplied(`${id}:2`, v2);
    await waitFor('both handled', () => inboxHas(h, [`${id}:1`, `${id}:2`]));
    await waitFor(
      'duplicate counted',
      async () =>
        (await counter(h, 'concord_projector_messages_total', { result: 'duplicate' })) > duplicatesBefore,
    );
    expect((await pgRow(h, 'task', id))?.fields).toEqual({ title: 'two' });
    expect(await redisRecord(h, 'task', id)).toMatchObject({ version: 2, fields: { title: 'two' } });
    await waitFor('projected v2', () => h.projected.some((p) => p.aggregateId === id));

    await h.publishApplied(`${id}:3`, v3);
    await waitFor('v3', async () => (await redisRecord(h, 'task', id))?.version === 3);
    // The cache is written inside the transaction, before its commit: the read model follows shortly.
    await waitFor('v3 committed', async () => (await pgRow(h, 'task', id))?.version === 3);
    expect((await pgRow(h, 'task', id))?.fields).toEqual({ title: 'three' });
    await waitFor('projected v3', () => h.projected.some((p) => p.aggregateId === id && p.version === 3));
    // Only versions that moved a backend forward were announced: v1 (stale) and the redelivery were not.
    expect(h.projected.filter((p) => p.aggregateId === id).map((p) => p.version)).toEqual([2, 3]);
    expect(
      await counter(h, 'concord_projector_projections_total', { backend: 'redis', result: 'stale' }),
    ).toBeGreaterThan(0);
  });

  it('projects concurrent messages in shared transactions; a message the database refuses fails alone', async () => {
    const h = harness();
    const run = unique();
    const ids = Array.from({ length: 40 }, (_, i) => `batch-${run}-${i}`);
    const poison = `batch-${run}-poison`;
    const deadLetters: string[] = [];
    const dlq = await h.bus.subscribe({
      group: `dlq-${run}`,
      topics: [dlqTopic(Topics.applied)],
      handler: (message) => {
        deadLetters.push(message.id);
        return Promise.resolve();
      },
    });
    const message = (id: string) => ({
      id: `${id}:1`,
      key: id,
      // jsonb refuses the NUL character: a data error of this message alone.
      payload: encodeJson(applied('note', id, 1, { body: id === poison ? 'bad\u0000' : id })),
    });
    const shared = ids.slice(0, 30);
    await h.bus.publish(Topics.applied, shared.map(message));
    await waitFor('the burst projected', () =>
      inboxHas(
        h,
        shared.map((id) => `${id}:1`),
      ),
    );
    const { rows } = await h.t.db.query<{ transactions: number; rows: number }>(
      `SELECT count(DISTINCT tx_id)::int AS transactions, count(*)::int AS rows FROM concord.outbox
       WHERE topic = $1 AND key = ANY($2::text[])`,
      [Topics.projected, shared],
    );
    expect(rows[0]?.rows).toBe(shared.length);
    expect(rows[0]?.transactions).toBeLessThan(shared.length);

    const rest = ids.slice(30);
    await h.bus.publish(Topics.applied, [...rest.slice(0, 5), poison, ...rest.slice(5)].map(message));
    await waitFor('the others projected', () =>
      inboxHas(
        h,
        rest.map((id) => `${id}:1`),
      ),
    );
    await waitFor('the poison dead-lettered', () => deadLetters.includes(`${poison}:1`));
    await dlq.close();
    expect(await inboxHas(h, [`${poison}:1`])).toBe(false);
    expect(await pgRow(h, 'note', poison)).toBeUndefined();
    for (const id of ids) expect((await pgRow(h, 'note', id))?.fields).toEqual({ body: id });
  });

  it('acknowledges resolved messages without changing the read model', async () => {
    const h = harness();
    const id = `task-${unique()}`;
    await h.publishApplied(`${id}:1`, applied('task', id, 1, { title: 'kept' }));
    const resolved = {
      kind: 'conflict_resolved',
      conflictId: `c-${id}`,
      eventId: `e-${id}`,
      aggregateType: 'task',
      aggregateId: id,
      outcome: 'resolved',
      version: 2,
      decision: {},
    } as unknown as ConflictResolvedMessage;
    await h.bus.publish(Topics.conflictResolved, [
      { id: `${id}:resolved`, key: id, payload: encodeJson(resolved) },
    ]);
    await waitFor('resolved handled', () => inboxHas(h, [`${id}:1`, `${id}:resolved`]));
    expect(await pgRow(h, 'task', id)).toMatchObject({ version: 1, fields: { title: 'kept' } });
  });

  it('serves cached types from Redis, others from Postgres, and fills a cache miss', async () => {
    const h = harness();
    const task = `task-${unique()}`;
    const note = `note-${unique()}`;
    await h.append([ev('task', task, { title: 'pg' }), ev('note', note, { body: 'pg' })]);
    await waitFor(
      'projected',
      async () =>
        (await pgRow(h, 'task', task)) !== undefined && (await pgRow(h, 'note', note)) !== undefined,
    );
    await waitFor('cached', async () => (await redisRecord(h, 'task', task)) !== undefined);

    // Make the two stores differ, so the answer shows where it came from.
    const cached = await redisRecord(h, 'task', task);
    await h.redis.hset(
      `${h.keyPrefix}task:${task}`,
      'record',
      JSON.stringify({ ...cached, fields: { title: 'from-redis' } }),
    );
    expect((await get(h, 'task', task)).body.fields).toEqual({ title: 'from-redis' });
    expect((await get(h, 'note', note)).body.fields).toEqual({ body: 'pg' });

    await h.redis.unlink(`${h.keyPrefix}task:${task}`);
    expect((await get(h, 'task', task)).body.fields).toEqual({ title: 'pg' });
    expect(await redisRecord(h, 'task', task)).toMatchObject({ version: 1, fields: { title: 'pg' } });

    const missing = await get(h, 'task', `nope-${unique()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('CONCORD_AGGREGATE_NOT_FOUND');
  });
});
