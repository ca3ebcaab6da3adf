import type { EventEnvelope } from '@concord/core';
import { createEventStore } from '../src/index.js';
import type { Database } from '../src/index.js';

const BATCH = 100;

const eventsFor = (worker: number, batch: number): EventEnvelope[] =>
  Array.from({ length: BATCH }, (_, i) => ({
    id: `w${worker}-b${batch}-e${i}`,
    type: 'TaskUpdated',
    aggregateType: 'task',
    aggregateId: `task-${worker}-${i}`,
    data: { title: `title ${batch}`, done: batch % 2 === 0 },
    metadata: { source: 'bench' },
  }));

const runWorkers = async (
  workers: number,
  batches: number,
  work: (worker: number, batch: number) => Promise<void>,
) => {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let batch = 0; batch < batches; batch++) await work(worker, batch);
    }),
  );
  return performance.now() - started;
};

/**
 * Appends batches of 100 events (each with its outbox rows) through the store, then inserts the very
 * same event and outbox rows with plain multi-row INSERTs into look-alike tables (same columns and
 * indexes, no trigger), on the same pool with the same concurrency.
 */
export const benchAppend = async (db: Database, options: { events: number; workers: number }) => {
  const store = createEventStore();
  const batches = Math.max(1, Math.floor(options.events / BATCH / options.workers));
  const total = batches * BATCH * options.workers;
  await db.exec(`
    CREATE TABLE public.raw_events (LIKE concord.events INCLUDING ALL);
    CREATE TABLE public.raw_outbox (LIKE concord.outbox INCLUDING ALL);`);
  const captured: { events: unknown[][]; outbox: unknown[][] }[] = [];
  // Warm-up, and capture what the store writes so the raw run inserts the same rows.
  await db.withTransaction((tx) => store.append(tx, eventsFor(99, 0)));
  const appendMs = await runWorkers(options.workers, batches, async (worker, batch) => {
    await db.withTransaction((tx) => store.append(tx, eventsFor(worker, batch)));
  });
  const { rows: eventRows } = await db.query<Record<string, unknown>>(
    `SELECT event_id, type, aggregate_type, aggregate_id, data, metadata, outcome, version, applied, details
     FROM concord.events ORDER BY position`,
  );
  const { rows: outboxRows } = await db.query<Record<string, unknown>>(
    'SELECT message_id, topic, key, headers, payload FROM concord.outbox ORDER BY id',
  );
  const perBatchEvents = BATCH;
  const perBatchOutbox = Math.round(outboxRows.length / (eventRows.length / BATCH));
  for (let b = 0; b * perBatchEvents < eventRows.length; b++) {
    captured.push({
      events: eventRows
        .slice(b * perBatchEvents, (b + 1) * perBatchEvents)
        .map((r) => [
          `raw-${String(r.event_id)}`,
          r.type,
          r.aggregate_type,
          r.aggregate_id,
          JSON.stringify(r.data),
          JSON.stringify(r.metadata),
          r.outcome,
          r.version,
          r.applied,
          JSON.stringify(r.details),
        ]),
      outbox: outboxRows
        .slice(b * perBatchOutbox, (b + 1) * perBatchOutbox)
        .map((r) => [r.message_id, r.topic, r.key, JSON.stringify(r.headers), r.payload]),
    });
  }
  const insert = (table: string, columns: string, rows: unknown[][]) => {
    const width = rows[0]?.length ?? 0;
    const values = rows.map(
      (_, i) => `(${Array.from({ length: width }, (_, j) => `$${i * width + j + 1}`).join(', ')})`,
    );
    return { text: `INSERT INTO ${table} (${columns}) VALUES ${values.join(', ')}`, params: rows.flat() };
  };
  const rawMs = await runWorkers(options.workers, batches, async (worker, batch) => {
    const data = captured[(worker * batches + batch) % captured.length];
    if (data === undefined) return;
    const e = insert(
      'public.raw_events',
      'event_id, type, aggregate_type, aggregate_id, data, metadata, outcome, version, applied, details',
      data.events.map((row) => [
        ...row.slice(0, 1).map((id) => `${String(id)}-${worker}-${batch}`),
        ...row.slice(1),
      ]),
    );
    const o = insert('public.raw_outbox', 'message_id, topic, key, headers, payload', data.outbox);
    await db.withTransaction(async (tx) => {
      await tx.query(e.text, e.params);
      await tx.query(o.text, o.params);
    });
  });
  return {
    events: total,
    outboxRowsPerEvent: perBatchOutbox / BATCH,
    eventsPerSec: (total / appendMs) * 1000,
    rawInsertPerSec: (total / rawMs) * 1000,
  };
};
