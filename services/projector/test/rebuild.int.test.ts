import type { EventEnvelope } from '@concord/core/envelope';
import type { EventStore, FeedEvent } from '@concord/outbox';
import { describe, expect, it } from 'vitest';
import type { ProjectionBackend } from '../src/backend.js';
import { foldEvents, gapsOf } from '../src/rebuild/fold.js';
import type { HeldEvents } from '../src/rebuild/fold.js';
import type { RebuildSummary } from '../src/rebuild/rebuilder.js';
import { projectionTables } from '../src/tables.js';
import { unique, useHarness, waitFor } from './support/harness.js';
import { converged, ev, get, pgRow, readModel, redisRecord, storeAggregates } from './support/projection.js';

describe('rebuild on demand', () => {
  const harness = useHarness({ cachedTypes: ['task'] });

  it('rebuilds from the event store into a read model equal to the live projection', async () => {
    const h = harness();
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
    const h = harness();
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
  let appendDuringRebuild: (() => Promise<void>) | undefined;
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
  const harness = useHarness({ cachedTypes: ['task'], store: midway });

  it('loses no live update', async () => {
    const h = harness();
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

describe('rebuild while the cache is read', () => {
  let duringSwap: (() => Promise<void>) | undefined;
  // Runs once the cache has dropped its keys in the swap, before the swap writes the rebuilt records.
  const hookCache = (backends: ProjectionBackend[]): ProjectionBackend[] =>
    backends.map((backend) =>
      backend.name !== 'redis'
        ? backend
        : {
            ...backend,
            async beginRebuild(ctx, scope) {
              const begin = backend.beginRebuild?.bind(backend);
              if (begin === undefined) throw new Error('redis cannot rebuild');
              const writer = await begin(ctx, scope);
              const hook = duringSwap;
              duringSwap = undefined;
              await hook?.();
              return writer;
            },
          },
    );
  const harness = useHarness({ cachedTypes: ['task'], backends: hookCache });

  it('serves the rebuilt record from the cache, not the one a read during the swap saw', async () => {
    const h = harness();
    const id = `task-${unique()}`;
    await h.append([ev('task', id, { title: 'right' })]);
    await waitFor('projected', () => converged(h));
    await waitFor('cached', async () => (await redisRecord(h, 'task', id))?.version === 1);
    // The read model went wrong at the same version (why one rebuilds); the cache is cold.
    await h.t.db.query(
      `UPDATE concord.projections SET fields = '{"title":"wrong"}' WHERE aggregate_id = $1`,
      [id],
    );
    await h.redis.unlink(`${h.keyPrefix}task:${id}`);

    let during: Awaited<ReturnType<typeof get>> | undefined;
    duringSwap = async () => {
      // Misses the cache; Postgres answers with the committed pre-rebuild row (the swap's lock does
      // not block reads). The read must not fill the cache with it, nor wait for the swap.
      during = await get(h, 'task', id);
    };
    const response = await h.http.app.inject({
      method: 'POST',
      url: '/v1/projections/rebuild',
      payload: { aggregateType: 'task' },
    });
    expect(response.statusCode).toBe(200);
    expect(duringSwap).toBeUndefined();
    expect(during?.body).toMatchObject({ version: 1, fields: { title: 'wrong' } });

    expect((await pgRow(h, 'task', id))?.fields).toEqual({ title: 'right' });
    expect(await redisRecord(h, 'task', id)).toMatchObject({ version: 1, fields: { title: 'right' } });
    expect((await get(h, 'task', id)).body.fields).toEqual({ title: 'right' });
    // After the swap, a miss fills the cache again.
    await h.redis.unlink(`${h.keyPrefix}task:${id}`);
    expect((await get(h, 'task', id)).body.fields).toEqual({ title: 'right' });
    expect(await redisRecord(h, 'task', id)).toMatchObject({ version: 1, fields: { title: 'right' } });
  });
});

describe('rebuild and the committed rows', () => {
  let beforeCommit: (() => Promise<void>) | undefined;
  // Runs inside the swap once every record was handed to the backends, before the swap commits.
  const hookStore = (backends: ProjectionBackend[]): ProjectionBackend[] =>
    backends.map((backend) =>
      backend.name !== 'postgres'
        ? backend
        : {
            ...backend,
            async beginRebuild(ctx, scope) {
              const begin = backend.beginRebuild?.bind(backend);
              if (begin === undefined) throw new Error('postgres cannot rebuild');
              const writer = await begin(ctx, scope);
              return {
                write: (records) => writer.write(records),
                async finish() {
                  await writer.finish();
                  const hook = beforeCommit;
                  beforeCommit = undefined;
                  await hook?.();
                },
              };
            },
          },
    );
  const harness = useHarness({ cachedTypes: ['task'], backends: hookStore });

  it('writes the cache only once the swap committed: never ahead of a committed row', async () => {
    const h = harness();
    const id = `task-${unique()}`;
    await h.append([ev('task', id, { title: 'right' })]);
    await waitFor('projected', () => converged(h));
    await waitFor('cached', async () => (await redisRecord(h, 'task', id))?.version === 1);
    await h.t.db.query(
      `UPDATE concord.projections SET fields = '{"title":"wrong"}' WHERE aggregate_id = $1`,
      [id],
    );
    await h.redis.unlink(`${h.keyPrefix}task:${id}`);

    let during: { cached: unknown; committed: unknown } | undefined;
    beforeCommit = async () => {
      during = {
        cached: (await redisRecord(h, 'task', id))?.fields,
        committed: (await pgRow(h, 'task', id))?.fields,
      };
    };
    const response = await h.http.app.inject({
      method: 'POST',
      url: '/v1/projections/rebuild',
      payload: { aggregateType: 'task' },
    });
    expect(response.statusCode).toBe(200);
    // Before the commit Postgres still serves the pre-rebuild row: the cache holds nothing else.
    expect(during?.committed).toEqual({ title: 'wrong' });
    expect(during?.cached).toBeUndefined();
    // Once committed, the cache has the rebuilt record.
    expect(await redisRecord(h, 'task', id)).toMatchObject({ version: 1, fields: { title: 'right' } });
  });
});

describe('rebuild fold', () => {
  const harness = useHarness({ cachedTypes: [] });

  it('applies events in version order whatever the feed order, skips seen versions and holds gaps', async () => {
    const h = harness();
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
