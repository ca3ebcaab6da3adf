import type { EventEnvelope } from '@concord/core/envelope';
import { createEventStore } from '../src/index.js';
import type { Database } from '../src/index.js';
import { median } from './setup.js';

const BATCH = 100;

const eventsFor = (tag: string, worker: number, batch: number): EventEnvelope[] =>
  Array.from({ length: BATCH }, (_, i) => ({
    id: `${tag}-w${worker}-b${batch}-e${i}`,
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

const EVENT_COLUMNS =
  'event_id, type, aggregate_type, aggregate_id, data, metadata, outcome, version, applied, details';
const OUTBOX_COLUMNS = 'message_id, topic, key, headers, payload';

/** A plain multi-row INSERT … VALUES ($1, …), (…) of `rows`. */
const insert = (table: string, columns: string, rows: readonly unknown[][]) => {
  const width = rows[0]?.length ?? 0;
  const values = rows.map(
    (_, i) => `(${Array.from({ length: width }, (_, j) => `$${i * width + j + 1}`).join(', ')})`,
  );
  return { text: `INSERT INTO ${table} (${columns}) VALUES ${values.join(', ')}`, params: rows.flat() };
};

/** The event and outbox rows one append batch wrote, as plain column values. */
interface Captured {
  readonly events: unknown[][];
  readonly outbox: unknown[][];
}

/** Reads back what the store wrote for the batches tagged `tag`, one entry per batch of BATCH events. */
const capture = async (db: Database, tag: string): Promise<Captured[]> => {
  const { rows: events } = await db.query<Record<string, unknown>>(
    `SELECT ${EVENT_COLUMNS} FROM concord.events WHERE event_id LIKE $1 ORDER BY position`,
    [`${tag}-%`],
  );
  const { rows: outbox } = await db.query<Record<string, unknown> & { event_id: string }>(
    `SELECT ${OUTBOX_COLUMNS}, split_part(message_id, ':', 1) AS event_id FROM concord.outbox
     WHERE message_id LIKE $1 ORDER BY id`,
    [`${tag}-%`],
  );
  const batchOf = (eventId: string) => eventId.slice(0, eventId.lastIndexOf('-e'));
  const batches = new Map<string, Captured>();
  for (const r of events) {
    const key = batchOf(String(r.event_id));
    const entry = batches.get(key) ?? { events: [], outbox: [] };
    entry.events.push([
      r.event_id,
      r.type,
      r.aggregate_type,
      r.aggregate_id,
      JSON.stringify(r.data),
      JSON.stringify(r.metadata),
      r.outcome,
      r.version,
      r.applied,
      JSON.stringify(r.details),
    ]);
    batches.set(key, entry);
  }
  for (const r of outbox) {
    batches
      .get(batchOf(r.event_id))
      ?.outbox.push([r.message_id, r.topic, r.key, JSON.stringify(r.headers), r.payload]);
  }
  return [...batches.values()];
};

export interface AppendRound {
  readonly eventsPerSec: number;
  readonly rawInsertPerSec: number;
  readonly ratio: number;
}

/**
 * Appends batches of 100 events (each with its outbox rows) through the store, and inserts the very
 * same event and outbox rows with plain multi-row INSERTs into look-alike tables (same columns,
 * defaults and indexes; no trigger), one transaction per batch on both sides, on the same pool with the
 * same number of concurrent workers. Rounds alternate (append, raw, append, raw …) so that drift of a
 * shared machine hits both sides alike; each side is warmed up first.
 */
export const benchAppend = async (
  db: Database,
  options: { events: number; workers: number; rounds: number },
) => {
  const store = createEventStore();
  const batches = Math.max(1, Math.floor(options.events / BATCH / options.workers));
  const total = batches * BATCH * options.workers;
  await db.exec(`
    CREATE TABLE public.raw_events (LIKE concord.events INCLUDING ALL);
    CREATE TABLE public.raw_outbox (LIKE concord.outbox INCLUDING ALL);`);

  const append = (tag: string) =>
    runWorkers(options.workers, batches, async (worker, batch) => {
      await db.withTransaction((tx) => store.append(tx, eventsFor(tag, worker, batch)));
    });
  // The rows the raw side inserts: those the store wrote in its warm-up, which has the same shape.
  await append('warm');
  const captured = await capture(db, 'warm');
  const raw = (tag: string) =>
    runWorkers(options.workers, batches, async (worker, batch) => {
      const data = captured[(worker * batches + batch) % captured.length];
      if (data === undefined) throw new Error('nothing captured');
      const e = insert(
        'public.raw_events',
        EVENT_COLUMNS,
        data.events.map(([id, ...rest]) => [`${tag}-${String(id)}`, ...rest]),
      );
      const o = insert('public.raw_outbox', OUTBOX_COLUMNS, data.outbox);
      await db.withTransaction(async (tx) => {
        await tx.query(e.text, e.params);
        await tx.query(o.text, o.params);
      });
    });
  await raw('warm');

  const rounds: AppendRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const appendMs = await append(`r${round}`);
    const rawMs = await raw(`r${round}`);
    const eventsPerSec = (total / appendMs) * 1000;
    const rawInsertPerSec = (total / rawMs) * 1000;
    rounds.push({ eventsPerSec, rawInsertPerSec, ratio: eventsPerSec / rawInsertPerSec });
  }
  return {
    events: total,
    outboxRowsPerEvent: (captured[0]?.outbox.length ?? 0) / BATCH,
    rounds,
    eventsPerSec: median(rounds.map((r) => r.eventsPerSec)),
    rawInsertPerSec: median(rounds.map((r) => r.rawInsertPerSec)),
    ratio: median(rounds.map((r) => r.ratio)),
  };
};
