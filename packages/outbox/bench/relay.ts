import type { MessageBus, OutgoingMessage } from '@concord/bus';
import { createOutbox, createRelay } from '../src/index.js';
import type { Database, OutboxMessage, Relay } from '../src/index.js';
import { median } from './setup.js';

/** Messages per publish call, for the plain client and for the relay alike. */
export const RELAY_BATCH = 500;
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
}

/**
 * Relay throughput vs the plain bus client, in alternating rounds on the same bus connection and the
 * same message set: the client publishes `count` messages in sequential batches of RELAY_BATCH, each
 * awaited until confirmed; the relay drains a backlog of the same `count` messages (and nothing else:
 * the database is the relay's own), RELAY_BATCH rows per publish like the client (and its default
 * readSize per read), timed from start() until every row is marked published. Both sides are warmed
 * up first with one smaller round. Then p99 commit-to-confirm lag of a relay following a steady write
 * load.
 */
export const benchRelay = async (
  db: Database,
  bus: MessageBus,
  options: { messages: number; topic: string; rounds: number },
) => {
  const { topic, messages: count } = options;
  // Warm-up: the broker creates the topic / queues, connections and query plans settle.
  await publishRaw(bus, topic, messagesFor(topic, 1000, 'warm-raw').map(toOutgoing));
  await drainBacklog(db, bus, topic, 1000, 'warm-relay');

  const rounds: RelayRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const raw = messagesFor(topic, count, `raw${round}`).map(toOutgoing);
    const rawMs = await publishRaw(bus, topic, raw);
    const relayMs = await drainBacklog(db, bus, topic, count, `relay${round}`);
    const messagesPerSec = (count / relayMs) * 1000;
    const rawPublishPerSec = (count / rawMs) * 1000;
    rounds.push({ messagesPerSec, rawPublishPerSec, ratio: messagesPerSec / rawPublishPerSec });
  }

  const live = await liveLag(db, bus, topic);
  return {
    rounds,
    messagesPerSec: median(rounds.map((r) => r.messagesPerSec)),
    rawPublishPerSec: median(rounds.map((r) => r.rawPublishPerSec)),
    ratio: median(rounds.map((r) => r.ratio)),
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
