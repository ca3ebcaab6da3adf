import { createEventStore, createInbox, createOutbox } from '@concord/outbox';
import type { EventStore } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGroupCommit } from '../src/commit.js';
import { parseBatch } from '../src/intake.js';
import { event, openDatabase, startIngest, unique } from './support/harness.js';

/** A store that fails appends holding an event whose id starts with `poison` (data) or `down` (other). */
const failingStore = (): EventStore => {
  const store = createEventStore();
  return {
    ...store,
    append(tx, events) {
      if (events.some((e) => e.id.startsWith('poison'))) {
        return Promise.reject(
          Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' }),
        );
      }
      if (events.some((e) => e.id.startsWith('down'))) {
        return Promise.reject(Object.assign(new Error('connection terminated'), { code: '57P01' }));
      }
      return store.append(tx, events);
    },
  };
};

describe('group commit on Postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
  });
  afterAll(() => t?.close());

  it('lets concurrent requests share transactions, each getting its own results', async () => {
    const ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 20, maxInFlight: 2 } } });
    try {
      const prefix = `c-${unique()}`;
      const requests = Array.from({ length: 40 }, (_, r) =>
        ingest.post({
          events: [
            event({ id: `${prefix}-${r}-a`, aggregateId: `${prefix}-shared`, data: { [`f${r}`]: r } }),
            event({ id: `${prefix}-${r}-b`, aggregateId: `${prefix}-own-${r}`, data: { n: r } }),
          ],
        }),
      );
      const responses = await Promise.all(requests);
      responses.forEach((response, r) => {
        expect(response.status).toBe(200);
        expect(response.body.results.map((x) => [x.id, x.outcome])).toEqual([
          [`${prefix}-${r}-a`, 'applied'],
          [`${prefix}-${r}-b`, 'applied'],
        ]);
      });
      const { rows } = await t.db.query<{ transactions: number; events: number; versions: number }>(
        `SELECT count(DISTINCT tx_id)::int AS transactions, count(*)::int AS events,
           count(DISTINCT version) FILTER (WHERE aggregate_id = $2)::int AS versions
         FROM concord.events WHERE event_id LIKE $1`,
        [`${prefix}-%`, `${prefix}-shared`],
      );
      expect(rows[0]?.events).toBe(80);
      expect(rows[0]?.versions).toBe(40);
      // 40 requests, far fewer transactions.
      expect(rows[0]?.transactions).toBeLessThanOrEqual(10);
      const metrics = await ingest.metrics.registry.getSingleMetricAsString(
        'concord_ingest_append_batch_requests',
      );
      expect(metrics).toMatch(/concord_ingest_append_batch_requests_sum\{[^}]*\} 40/);
    } finally {
      await ingest.close();
    }
  });

  it('applies a request whose events share an aggregate in order, duplicates across requests answered', async () => {
    const ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 20 } } });
    try {
      const id = `o-${unique()}`;
      const [a, b] = await Promise.all([
        ingest.post({
          events: [
            event({ id: `${id}-1`, aggregateId: id, data: { title: 'one' } }),
            event({ id: `${id}-2`, aggregateId: id, baseVersion: 1, data: { title: 'two' } }),
          ],
        }),
        ingest.post({ events: [event({ id: `${id}-1`, aggregateId: id, data: { title: 'one' } })] }),
      ]);
      expect(a.body.results.map((r: { outcome: string }) => r.outcome)).toEqual(['applied', 'applied']);
      expect(b.body.results).toMatchObject([
        { id: `${id}-1`, outcome: 'duplicate', originalOutcome: 'applied' },
      ]);
    } finally {
      await ingest.close();
    }
  });

  it('leaves the aggregate locks of HTTP requests to the append (no inbox row is written before it)', async () => {
    const store = createEventStore();
    let separateLocks = 0;
    const counting: EventStore = {
      ...store,
      lockAggregates(tx, aggregates) {
        separateLocks += 1;
        return store.lockAggregates(tx, aggregates);
      },
    };
    const ingest = await startIngest(t.db, { store: counting });
    try {
      const id = `l-${unique()}`;
      const response = await ingest.post({ events: [event({ id: `${id}-1`, aggregateId: id })] });
      expect(response.body.results).toMatchObject([{ outcome: 'applied' }]);
      expect(separateLocks).toBe(0);
    } finally {
      await ingest.close();
    }
  });

  it('fails only the requests of a failed transaction, retryably (503), and isolates content the database refuses', async () => {
    const ingest = await startIngest(t.db, {
      store: failingStore(),
      options: { groupCommit: { lingerMs: 30, maxInFlight: 1 } },
    });
    try {
      const id = `f-${unique()}`;
      const [good1, poison, good2] = await Promise.all([
        ingest.post({ events: [event({ id: `${id}-g1`, aggregateId: id })] }),
        ingest.post({ events: [event({ id: `poison-${id}`, aggregateId: id })] }),
        ingest.post({ events: [event({ id: `${id}-g2`, aggregateId: id })] }),
      ]);
      expect(poison.status).toBe(400);
      expect(poison.body.error.code).toBe('CONCORD_BATCH_UNSTORABLE');
      expect([good1.status, good2.status]).toEqual([200, 200]);
      expect(good2.body.results[0]).toMatchObject({ outcome: 'applied', version: 2 });

      const [down, alone] = await Promise.all([
        ingest.post({ events: [event({ id: `down-${id}`, aggregateId: id })] }),
        ingest.post({ events: [event({ id: `${id}-g3`, aggregateId: `${id}-x` })] }),
      ]);
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('CONCORD_COMMIT_FAILED');
      // It shared the failed transaction: it fails too, and nothing of it was kept.
      expect(alone.status).toBe(503);
      expect((await ingest.get(`/v1/events/${id}-g3`)).status).toBe(404);
      const retried = await ingest.post({ events: [event({ id: `${id}-g3`, aggregateId: `${id}-x` })] });
      expect(retried.body.results[0]?.outcome).toBe('applied');
    } finally {
      await ingest.close();
    }
  });

  it('answers an invalid copy duplicate of the valid event another request of its transaction stores', async () => {
    const commit = createGroupCommit({
      db: t.db,
      store: createEventStore(),
      inbox: createInbox(),
      outbox: createOutbox(),
      consumer: 'ingest',
    });
    const id = `i-${unique()}`;
    const malformed = { id: `${id}-1`, type: 'T', aggregateType: 'task', aggregateId: id, data: 5 };
    // One transaction: the invalid copy's request first, then the valid event's, then another invalid copy.
    const results = await commit([
      { items: parseBatch([malformed], {}) },
      { items: parseBatch([event({ id: `${id}-1`, aggregateId: id })], {}) },
      { items: parseBatch([{ ...malformed, data: [] }], {}) },
    ]);
    const answers = results.map((r) => (r.kind === 'committed' ? r.results : r.kind));
    expect(answers).toEqual([
      [{ id: `${id}-1`, outcome: 'duplicate', originalOutcome: 'applied', version: 1 }],
      [{ id: `${id}-1`, outcome: 'applied', version: 1 }],
      [{ id: `${id}-1`, outcome: 'duplicate', originalOutcome: 'applied', version: 1 }],
    ]);
    const { rows } = await t.db.query<{ outcome: string }>(
      'SELECT outcome FROM concord.events WHERE event_id = $1',
      [`${id}-1`],
    );
    expect(rows).toEqual([{ outcome: 'applied' }]);
  });

  it('drains queued requests on close and then answers 503', async () => {
    const ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 1_000 } } });
    const id = `d-${unique()}`;
    const pending = ingest.post({ events: [event({ id: `${id}-1`, aggregateId: id })] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const readiness = ingest.module.checks?.[0];
    expect(await readiness?.isReady()).toBe(true);
    await ingest.module.close();
    expect(await readiness?.isReady()).toBe(false);
    expect((await pending).body.results[0]?.outcome).toBe('applied');
    const late = await ingest.post({ events: [event({ id: `${id}-2`, aggregateId: id })] });
    expect(late.status).toBe(503);
    expect(late.body.error.code).toBe('CONCORD_INGEST_CLOSED');
    await ingest.close();
  });
});
