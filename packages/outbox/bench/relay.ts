import type { MessageBus, OutgoingMessage } from '@concord/bus';
import { DEFAULT_SCHEMA, quoteSchema } from '../src/db/ident.js';
import { createOutbox, createRelay } from '../src/index.js';
import type { Database, OutboxMessage, Relay } from '../src/index.js';
import { readBatch } from '../src/relay/read.js';
import { relaySql } from '../src/relay/sql.js';
import { median } from './setup.js';

/** Messages per publish call, for the plain client and for the relay alike. */
export const RELAY_BATCH = 500;
/** Rows per read of the relay: its default readSize for RELAY_BATCH. */
const RELAY_READ = 4 * RELAY_BATCH;
const encoder = new TextEncoder();

const messagesFor = (topic: string, count: number, tag: string): OutboxMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    topic,
    id: `${tag}-${i}`,
    key: `agg-${i % 1000}`,
    payload: encoder.encode(
      JSON.stringify({
        kind: 'applied',
        eventId: `${tag}-${i}`,
        version: i,
        data: { title: 'x'.repeat(200) },
      }),
    ),
    headers: { 'correlation-id': `${tag}-${i}` },
  }));

/** What the relay sends for an outbox row without a trace context: the row's headers plus message-id. */
const toOutgoing = (m: OutboxMessage): OutgoingMessage => ({
  id: m.id ?? '',
  key: m.key,
  payload: m.payload,
  headers: { ...m.headers, 'message-id': m.id ?? '' },
});

const writeAll = async (db: Database, messages: readonly OutboxMessage[]) => {
  const outbox = createOutbox();
  for (let start = 0; start < messages.length; start += 1000) {
    await db.withTransaction((tx) => outbox.add(tx, messages.slice(start, start + 1000)));
  }
};

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/** Polls the relay's in-memory counters (no database round trip, so the poll does not load Postgres). */
const waitPublished = async (relay: Relay, count: number) => {
  while (relay.counters().published < count) await tick();
};

const startRelay = (db: Database, bus: MessageBus): Relay => {
  const relay = createRelay({ db, bus, batchSize: RELAY_BATCH, pollIntervalMs: 50 });
  relay.start();
  return relay;
};

/** The plain bus client: sequential batches of RELAY_BATCH, each awaited until the broker confirmed it. */
const publishRaw = async (bus: MessageBus, topic: string, messages: readonly OutgoingMessage[]) => {
  const started = performance.now();
  for (let start = 0; start < messages.length; start += RELAY_BATCH)
    await bus.publish(topic, messages.slice(start, start + RELAY_BATCH));
  return performance.now() - started;
};

/**
 * A standing backlog of RELAY_READ rows in a database no relay drains, and a function that reads them
 * the way the relay reads (its statement, parameters and decoding of the rows).
 */
const standingReads = async (db: Database, topic: string): Promise<() => Promise<unknown>> => {
  await writeAll(db, messagesFor(topic, RELAY_READ, 'standing'));
  const sql = relaySql(quoteSchema(DEFAULT_SCHEMA), { asyncMark: true, payloadText: true });
  const partitions = Array.from({ length: 16 }, (_, i) => i);
  return async () => {
    const { rows } = await readBatch(db, sql, { partitions, after: undefined, limit: RELAY_READ });
    if (rows.length !== RELAY_READ) throw new Error(`standing backlog read ${rows.length} rows`);
  };
};

/**
 * The plain client of publishRaw with the relay's reads running beside it: one read of RELAY_READ rows
 * per RELAY_READ messages published, each started when the one before it has come back — the relay's
 * read-ahead. No marks, spans or bookkeeping: what this side loses against the plain client is what
 * the reads cost the publishing.
 */
const publishRawWithReads = async (
  bus: MessageBus,
  topic: string,
  messages: readonly OutgoingMessage[],
  read: () => Promise<unknown>,
) => {
  const started = performance.now();
  let reading: Promise<unknown> | undefined;
  for (let start = 0; start < messages.length; start += RELAY_BATCH) {
    if (start % RELAY_READ === 0) {
      await reading;
      reading = read();
    }
    await bus.publish(topic, messages.slice(start, start + RELAY_BATCH));
  }
  await reading;
  return performance.now() - started;
};

/** A relay started on a backlog of exactly `count` rows, timed from start() until all are marked. */
const drainBacklog = async (db: Database, bus: MessageBus, topic: string, count: number, tag: string) => {
  await writeAll(db, messagesFor(topic, count, tag));
  const relay = startRelay(db, bus);
  const started = performance.now();
  await waitPublished(relay, count);
  const ms = performance.now() - started;
  await relay.close();
  return ms;
};

export interface RelayRound {
  readonly messagesPerSec: number;
  readonly rawPublishPerSec: number;
  readonly ratio: number;
  /** With --breakdown: the plain client with the relay's reads beside it. */
  readonly rawWithReadsPublishPerSec?: number;
}

/**
 * Relay throughput vs the plain bus client, in alternating rounds on the same bus connection and the
 * same message set: the client publishes `count` messages in sequential batches of RELAY_BATCH, each
 * awaited until confirmed; the relay drains a backlog of the same `count` messages (and nothing else:
 * the database is the relay's own), RELAY_BATCH rows per publish like the client (and its default
 * readSize per read), timed from start() until every row is marked published. Both sides are warmed
 * up first with one smaller round. Then p99 commit-to-confirm lag of a relay following a steady write
 * load.
 *
 * With `readsDb` (--breakdown), each round has a third side: the plain client again with the relay's
 * reads beside it (publishRawWithReads, reading a standing backlog in `readsDb`), which tells how much
 * of the relay's shortfall the reads alone account for.
 */
export const benchRelay = async (
  db: Database,
  bus: MessageBus,
  options: { messages: number; topic: string; rounds: number; readsDb?: Database },
) => {
  const { topic, messages: count } = options;
  const read = options.readsDb === undefined ? undefined : await standingReads(options.readsDb, topic);
  // Warm-up: the broker creates the topic / queues, connections and query plans settle.
  await publishRaw(bus, topic, messagesFor(topic, 1000, 'warm-raw').map(toOutgoing));
  await drainBacklog(db, bus, topic, 1000, 'warm-relay');
  if (read !== undefined)
    await publishRawWithReads(bus, topic, messagesFor(topic, 4000, 'warm-reads').map(toOutgoing), read);

  const rounds: RelayRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const raw = messagesFor(topic, count, `raw${round}`).map(toOutgoing);
    const rawMs = await publishRaw(bus, topic, raw);
    const relayMs = await drainBacklog(db, bus, topic, count, `relay${round}`);
    const messagesPerSec = (count / relayMs) * 1000;
    const rawPublishPerSec = (count / rawMs) * 1000;
    const result: RelayRound = { messagesPerSec, rawPublishPerSec, ratio: messagesPerSec / rawPublishPerSec };
    if (read === undefined) {
      rounds.push(result);
      continue;
    }
    const withReads = messagesFor(topic, count, `reads${round}`).map(toOutgoing);
    const withReadsMs = await publishRawWithReads(bus, topic, withReads, read);
    rounds.push({ ...result, rawWithReadsPublishPerSec: (count / withReadsMs) * 1000 });
  }

  const live = await liveLag(db, bus, topic);
  const withReads = rounds.flatMap((r) => r.rawWithReadsPublishPerSec ?? []);
  return {
    rounds,
    messagesPerSec: median(rounds.map((r) => r.messagesPerSec)),
    rawPublishPerSec: median(rounds.map((r) => r.rawPublishPerSec)),
    ratio: median(rounds.map((r) => r.ratio)),
    ...(withReads.length === 0 ? {} : { rawWithReadsPublishPerSec: median(withReads) }),
    ...live,
  };
};

/** A fresh relay (fresh lag samples) following 50 rows every 10 ms for ~5 s. */
const liveLag = async (db: Database, bus: MessageBus, topic: string) => {
  const relay = startRelay(db, bus);
  const live = messagesFor(topic, 25_000, 'live');
  const outbox = createOutbox();
  let written = 0;
  const started = performance.now();
  const end = started + 5_000;
  while (performance.now() < end && written < live.length) {
    const batch = live.slice(written, written + 50);
    await db.withTransaction((tx) => outbox.add(tx, batch));
    written += batch.length;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const writeMs = performance.now() - started;
  await waitPublished(relay, written);
  const { lagMs } = relay.counters();
  await relay.close();
  return { lagMs, liveWritePerSec: (written / writeMs) * 1000 };
};
