import './support/cjs-conditions.js';
import { dlqTopic, encodeJson } from '@concord/bus';
import { Topics } from '@concord/core';
import type { AppliedMessage, ConflictResolvedMessage, EventEnvelope } from '@concord/core';
import type { EventStore, FeedEvent } from '@concord/outbox';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProjectionRecord } from '../src/model.js';
import { foldEvents, gapsOf } from '../src/rebuild/fold.js';
import type { HeldEvents } from '../src/rebuild/fold.js';
import type { RebuildSummary } from '../src/rebuild/rebuilder.js';
import { projectionTables } from '../src/tables.js';
import { startHarness, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';

const ev = (
  aggregateType: string,
  aggregateId: string,
  data: EventEnvelope['data'],
  extra: Partial<EventEnvelope> = {},
) => ({
  id: `e-${unique()}`,
  type: 'Updated',
  aggregateType,
  aggregateId,
  data,
  ...extra,
});

const applied = (
  type: string,
  id: string,
  version: number,
  fields: AppliedMessage['changes'],
): AppliedMessage => ({
  kind: 'applied',
  eventId: `${id}-v${version}`,
  eventType: 'Updated',
  aggregateType: type,
  aggregateId: id,
  outcome: 'applied',
  version,
  changes: fields,
  state: { fields, fieldVersions: {}, vector: {} },
  committedAt: new Date().toISOString(),
});

const get = async (h: Harness, type: string, id: string) => {
  const response = await h.http.app.inject({
    method: 'GET',
    url: `/v1/aggregates/${type}/${encodeURIComponent(id)}`,
  });
  return { status: response.statusCode, body: response.json() };
};

const pgRow = async (h: Harness, type: string, id: string) => {
  const { rows } = await h.t.db.query<{ version: number; fields: unknown; field_versions: unknown }>(
    `SELECT version::float8 AS version, fields, field_versions FROM concord.projections
     WHERE aggregate_type = $1 AND aggregate_id = $2`,
    [type, id],
  );
  return rows[0];
};

const redisRecord = async (h: Harness, type: string, id: string): Promise<ProjectionRecord | undefined> => {
  const text = await h.redis.hget(`${h.keyPrefix}${type}:${id}`, 'record');
  return text === null ? undefined : (JSON.parse(text) as ProjectionRecord);
};

const counter = async (h: Harness, name: string, labels: Record<string, string>): Promise<number> => {
  const metric = h.metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
};

const inboxHas = async (h: Harness, ids: readonly string[]) => {
  const { rows } = await h.t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM concord.inbox WHERE consumer = 'projector' AND message_id = ANY($1::text[])`,
    [ids],
  );
  return rows[0]?.n === ids.length;
};

/** The event store's aggregates (the truth a read model must equal), by type/id. */
const storeAggregates = async (h: Harness) => {
  const { rows } = await h.t.db.query<{ aggregate_type: string; aggregate_id: string }>(
    'SELECT aggregate_type, aggregate_id FROM concord.aggregates WHERE version > 0 ORDER BY 1, 2',
  );
  const out = new Map<string, { version: number; fields: unknown; fieldVersions: unknown }>();
  for (const row of rows) {
    const state = await h.store.getAggregate(h.t.db, row.aggregate_type, row.aggregate_id);
    if (state !== undefined) {
      out.set(`${row.aggregate_type}/${row.aggregate_id}`, {
        version: state.version,
        fields: state.fields,
        fieldVersions: state.fieldVersions,
      });
    }
  }
  return out;
};

const readModel = async (h: Harness) => {
  const { rows } = await h.t.db.query<{
    aggregate_type: string;
    aggregate_id: string;
    version: number;
    fields: unknown;
    field_versions: unknown;
  }>(
    `SELECT aggregate_type, aggregate_id, version::float8 AS version, fields, field_versions
     FROM concord.projections ORDER BY 1, 2`,
  );
  return new Map(
    rows.map((r) => [
      `${r.aggregate_type}/${r.aggregate_id}`,
      { version: r.version, fields: r.fields, fieldVersions: r.field_versions },
    ]),
  );
};

/** Every aggregate of the event store is projected at its version (hand-published ones aside). */
const converged = async (h: Harness) => {
  const [truth, model] = await Promise.all([storeAggregates(h), readModel(h)]);
  for (const [key, state] of truth) if (model.get(key)?.version !== state.version) return false;
  return true;
};

describe('projector on Postgres and Redis', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      databaseUrl: inject('DATABASE_URL'),
      redisUrl: inject('REDIS_URL'),
      cachedTypes: ['task'],
    });
  });
  afterAll(() => h.close());

  it('projects applied events into Postgres and the Redis cache, with checkpoints and projected messages', async () => {
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
    expect(metrics).toMatch(/concord_projector_checkpoint_version\{projection="note",backend="postgres"/);
  });

  it('does not regress under redelivery and reordering', async () => {
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

  it('rebuilds from the event store into a read model equal to the live projection', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `r${i}-${unique()}`);
    const batches: EventEnvelope[][] = [];
    for (const [i, id] of ids.entries()) {
      const type = i % 2 === 0 ? 'task' : 'note';
      batches.push([
        ev(type, id, { title: `t${i}`, n: i }),
        ev(type, id, { n: i * 10 }, { baseVersion: 1 }),
        // Concurrent, disjoint: merged. Concurrent, overlapping: a conflict, not applied.
        ev(type, id, { tag: 'x' }, { baseVersion: 1 }),
        ev(type, id, { n: -1 }, { baseVersion: 1 }),
      ]);
    }
    for (const batch of batches) await h.append(batch);
    await waitFor('live projection converged', () => converged(h));
    const live = await readModel(h);

    // Damage the read models: a lost row, a wrong row, a row no event explains, a wrong cache entry.
    const task0 = ids[0] ?? '';
    const note1 = ids[1] ?? '';
    await h.t.db.query(`DELETE FROM concord.projections WHERE aggregate_id = $1`, [note1]);
    await h.t.db.query(`UPDATE concord.projections SET fields = '{"broken":true}' WHERE aggregate_id = $1`, [
      task0,
    ]);
    await h.t.db.query(
      `INSERT INTO concord.projections (aggregate_type, aggregate_id, version, fields, field_versions)
       VALUES ('task', 'ghost', 99, '{}', '{}')`,
    );
    await h.redis.hset(`${h.keyPrefix}task:${task0}`, 'version', '99', 'record', '{"broken":true}');

    const response = await h.http.app.inject({ method: 'POST', url: '/v1/projections/rebuild', payload: {} });
    expect(response.statusCode).toBe(200);
    const summary = response.json<RebuildSummary>();
    const truth = await storeAggregates(h);
    expect(summary).toMatchObject({
      status: 'completed',
      aggregateType: null,
      aggregates: truth.size,
      gaps: [],
      backends: [
        { name: 'postgres', scope: '*' },
        { name: 'redis', scope: ['task'] },
      ],
    });
    expect(summary.eventsRead).toBeGreaterThanOrEqual(summary.eventsApplied);
    expect(summary.eventsApplied).toBe([...truth.values()].reduce((n, s) => n + s.version, 0));

    const rebuilt = await readModel(h);
    // The rebuilt model is exactly the store's aggregates (rows no event explains are gone) and equals
    // what the live projection had built for each of them before the damage.
    expect(rebuilt).toEqual(truth);
    for (const [key, state] of truth) expect(live.get(key)).toEqual(state);
    expect(await redisRecord(h, 'task', task0)).toMatchObject({
      version: truth.get(`task/${task0}`)?.version,
      fields: truth.get(`task/${task0}`)?.fields,
    });
    expect((await get(h, 'note', note1)).body.version).toBe(truth.get(`note/${note1}`)?.version);

    const status = (await h.http.app.inject({ method: 'GET', url: '/v1/projections/rebuild' })).json();
    expect(status.rebuild).toMatchObject({ id: summary.id, status: 'completed', events: summary.eventsRead });
    expect(await h.metrics.registry.metrics()).toMatch(
      /concord_projector_rebuilds_total\{result="completed"/,
    );

    // Live projection continues on top of the rebuilt model.
    await h.append([
      ev('task', task0, { title: 'after' }, { baseVersion: truth.get(`task/${task0}`)?.version ?? 0 }),
    ]);
    await waitFor('projected after rebuild', () => converged(h));
    expect((await get(h, 'task', task0)).body.fields).toMatchObject({ title: 'after' });
  });

  it('rebuilds one aggregate type and rejects a type no backend rebuilds', async () => {
    const note = `note-${unique()}`;
    const task = `task-${unique()}`;
    await h.append([ev('note', note, { body: 'n' }), ev('task', task, { title: 't' })]);
    await waitFor('projected', () => converged(h));
    await h.t.db.query(
      `UPDATE concord.projections SET fields = '{"broken":true}' WHERE aggregate_id = ANY($1)`,
      [[note, task]],
    );

    const response = await h.http.app.inject({
      method: 'POST',
      url: '/v1/projections/rebuild',
      payload: { aggregateType: 'note' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      aggregateType: 'note',
      backends: [{ name: 'postgres', scope: ['note'] }],
    });
    expect((await pgRow(h, 'note', note))?.fields).toEqual({ body: 'n' });
    expect((await pgRow(h, 'task', task))?.fields).toEqual({ broken: true });

    const bad = await h.http.app.inject({
      method: 'POST',
      url: '/v1/projections/rebuild',
      payload: { aggregateType: 7 },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('rebuild while events keep arriving', () => {
  let h: Harness;
  let appendDuringRebuild: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    // The store a rebuild replays: once the replay has read the feed to its end, more events commit.
    // Only the swap's catch-up (or, after the swap, the live consumer) can bring them in.
    const midway = (store: EventStore): EventStore => ({
      ...store,
      async feed(sql, options) {
        const page = await store.feed(sql, options);
        const hook = appendDuringRebuild;
        if (page.events.length === 0 && hook !== undefined) {
          appendDuringRebuild = undefined;
          await hook();
        }
        return page;
      },
    });
    h = await startHarness({
      databaseUrl: inject('DATABASE_URL'),
      redisUrl: inject('REDIS_URL'),
      cachedTypes: ['task'],
      store: midway,
    });
  });
  afterAll(() => h.close());

  it('loses no live update', async () => {
    const ids = Array.from({ length: 20 }, () => `task-${unique()}`);
    await h.append(ids.map((id) => ev('task', id, { step: 1 })));
    await waitFor('first projection', () => converged(h));
    appendDuringRebuild = async () => {
      await h.append(ids.map((id) => ev('task', id, { step: 2 }, { baseVersion: 1 })));
    };
    const response = await h.http.app.inject({ method: 'POST', url: '/v1/projections/rebuild' });
    expect(response.statusCode).toBe(200);
    expect(appendDuringRebuild).toBeUndefined();
    expect(response.json()).toMatchObject({ caughtUp: ids.length, aggregates: ids.length });
    await h.append(ids.map((id) => ev('task', id, { step: 3 }, { baseVersion: 2 })));
    await waitFor('converged after rebuild', () => converged(h));
    const truth = await storeAggregates(h);
    expect(await readModel(h)).toEqual(truth);
    for (const id of ids) {
      expect(truth.get(`task/${id}`)).toMatchObject({ version: 3, fields: { step: 3 } });
      await waitFor('cache at v3', async () => (await redisRecord(h, 'task', id))?.version === 3);
    }
  });
});

describe('rebuild fold', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      databaseUrl: inject('DATABASE_URL'),
      redisUrl: inject('REDIS_URL'),
      cachedTypes: [],
    });
  });
  afterAll(() => h.close());

  it('applies events in version order whatever the feed order, skips seen versions and holds gaps', async () => {
    const id = `task-${unique()}`;
    const feedEvent = (version: number, data: EventEnvelope['data']): FeedEvent => ({
      event: ev('task', id, data),
      outcome: 'applied',
      version,
      cursor: '',
    });
    const held: HeldEvents = new Map();
    const tables = projectionTables(h.t.schema);
    const first = await foldEvents(h.t.db, {
      tables,
      rebuildId: 'fold-test',
      held,
      events: [feedEvent(2, { b: 2 }), feedEvent(1, { a: 1, b: 1 }), feedEvent(5, { e: 5 })],
    });
    expect(first).toEqual({ applied: 2, skipped: 0 });
    const second = await foldEvents(h.t.db, {
      tables,
      rebuildId: 'fold-test',
      held,
      events: [feedEvent(1, { a: 'again' }), feedEvent(3, { c: 3 })],
    });
    expect(second).toEqual({ applied: 1, skipped: 1 });
    const { rows } = await h.t.db.query<{ version: number; fields: unknown }>(
      `SELECT version::float8 AS version, fields FROM concord.projection_rebuild_rows
       WHERE rebuild_id = 'fold-test' AND aggregate_id = $1`,
      [id],
    );
    expect(rows).toEqual([{ version: 3, fields: { a: 1, b: 2, c: 3 } }]);
    expect(gapsOf(held)).toEqual([expect.objectContaining({ aggregateId: id, version: 5 })]);
  });
});
