import type { MessageBus, OutgoingMessage } from '@concord/bus';
import { createOutbox, createRelay } from '../src/index.js';
import type { Database, OutboxMessage } from '../src/index.js';

const BATCH = 500;
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

const writeAll = async (db: Database, messages: readonly OutboxMessage[]) => {
  const outbox = createOutbox();
  for (let start = 0; start < messages.length; start += 1000) {
    await db.withTransaction((tx) => outbox.add(tx, messages.slice(start, start + 1000)));
  }
};

const waitUntil = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 100));
};

/**
 * Relay draining a backlog of `count` rows vs the plain bus client publishing the same messages in
 * batches of the same size with confirms; then p99 commit-to-confirm lag under a steady write rate.
 */
export const benchRelay = async (
  db: Database,
  bus: MessageBus,
  options: { messages: number; topic: string },
) => {
  const { topic, messages: count } = options;
  // Warm-up: the broker creates topic / queues and the connections settle.
  await bus.publish(topic, messagesFor(topic, 100, 'warm').map(toOutgoing));

  const raw = messagesFor(topic, count, 'raw').map(toOutgoing);
  const rawStarted = performance.now();
  for (let start = 0; start < raw.length; start += BATCH)
    await bus.publish(topic, raw.slice(start, start + BATCH));
  const rawMs = performance.now() - rawStarted;

  await writeAll(db, messagesFor(topic, count, 'relay'));
  const relay = createRelay({ db, bus, batchSize: BATCH, pollIntervalMs: 50 });
  const relayStarted = performance.now();
  relay.start();
  await waitUntil(async () => (await relay.stats()).published >= count);
  const relayMs = performance.now() - relayStarted;

  await relay.close();

  // Live phase with a fresh relay (fresh lag samples): 50 rows every 10 ms for ~5 s.
  const liveRelay = createRelay({ db, bus, batchSize: BATCH, pollIntervalMs: 50 });
  liveRelay.start();
  const live = messagesFor(topic, 25_000, 'live');
  const outbox = createOutbox();
  let written = 0;
  const liveEnd = performance.now() + 5_000;
  while (performance.now() < liveEnd && written < live.length) {
    const batch = live.slice(written, written + 50);
    await db.withTransaction((tx) => outbox.add(tx, batch));
    written += batch.length;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await waitUntil(async () => (await liveRelay.stats()).published >= written);
  const stats = await liveRelay.stats();
  await liveRelay.close();
  return {
    messagesPerSec: (count / relayMs) * 1000,
    rawPublishPerSec: (count / rawMs) * 1000,
    lagSamples: stats.lagMs,
  };
};

const toOutgoing = (m: OutboxMessage): OutgoingMessage => ({
  id: m.id ?? '',
  key: m.key,
  payload: m.payload,
  headers: { ...m.headers, 'message-id': m.id ?? '' },
});
