import { Topics } from '@concord/core/messages';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDispatcher } from '../src/dispatcher.js';
import { createNotifierMetrics } from '../src/metrics.js';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { Job, JobQueue } from '../src/queue/port.js';
import { createDeliveryStore } from '../src/store/deliveries.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { createNotificationLog } from '../src/store/log.js';
import { tablesFor } from '../src/store/tables.js';
import { delay, startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { openStream } from './support/sse-client.js';
import type { SseClient } from './support/sse-client.js';
import { createMetrics } from '@concord/service-kit';

/** A durable queue that records what it was given and takes a while to take it (locks stay held). */
const recordingQueue = (): JobQueue<DeliveryRef> & { readonly added: string[] } => {
  const added: string[] = [];
  return {
    name: 'recording',
    durable: true,
    added,
    async enqueue(jobs: readonly Job<DeliveryRef>[]) {
      await delay(15);
      added.push(...jobs.map((job) => job.id));
    },
    start: () => Promise.resolve(),
    isReady: () => true,
    close: () => Promise.resolve(),
  };
};

describe('two notifier instances on one database', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  });

  afterAll(async () => {
    await database?.close();
  });

  it('their dispatch sweeps share the pending deliveries and queue each one once', async () => {
    const tables = tablesFor(database.schema);
    const log = createNotificationLog(tables);
    const deliveries = createDeliveryStore(tables);
    await database.db.query(
      `INSERT INTO concord.notifier_subscriptions (id, url, secret)
       VALUES ('sub-a', 'http://127.0.0.1:1/a', 's'), ('sub-b', 'http://127.0.0.1:1/b', 's')`,
    );
    await database.db.withTransaction(async (tx) => {
      const stored = await log.appendMany(
        tx,
        Array.from({ length: 150 }, (_, i) => ({
          kind: 'applied' as const,
          topic: Topics.applied,
          messageId: `sweep-${String(i).padStart(3, '0')}`,
          eventId: `sweep-${i}`,
          aggregateType: 'task',
          aggregateId: 'sweep',
          data: {},
        })),
      );
      await deliveries.insertMany(
        tx,
        stored.flatMap((n) =>
          ['sub-a', 'sub-b'].map((subscriptionId) => ({ notificationId: n?.id ?? '', subscriptionId })),
        ),
      );
    });

    const queues = [recordingQueue(), recordingQueue()];
    const dispatchers = queues.map((queue, i) =>
      createDispatcher({
        db: database.db,
        deliveries,
        queue,
        metrics: createNotifierMetrics(createMetrics(`notifier-${i}`).registry),
        batchSize: 10,
        pollIntervalMs: 50,
      }),
    );
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.start()));
    try {
      await waitFor('every delivery queued', async () => {
        const { rows } = await database.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM concord.notifier_deliveries WHERE status = 'pending'`,
        );
        return rows[0]?.n === 0;
      });
    } finally {
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
    }

    const added = queues.flatMap((queue) => queue.added);
    expect(added).toHaveLength(300);
    expect(new Set(added).size).toBe(300);
    // Both took part: each skipped the rows the other held.
    for (const queue of queues) expect(queue.added.length).toBeGreaterThan(0);
  });
});

describe('SSE resume across two notifier instances', () => {
  let database: TestDatabase;
  let instances: Harness[];
  const clients: SseClient[] = [];
  const open = async (instance: Harness, headers: Record<string, string> = {}) => {
    const client = await openStream(`${instance.url}/v1/stream?aggregateIds=multi-*`, headers);
    clients.push(client);
    return client;
  };
  const eventIds = (client: SseClient): string[] =>
    client.events.map((event) => (JSON.parse(event.data) as { eventId: string }).eventId);

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    instances = [];
    for (let i = 0; i < 2; i += 1) {
      instances.push(
        await startNotifier({
          db: database.db,
          schema: database.schema,
          jobQueue: createMemoryJobQueue<DeliveryRef>({
            retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
          }),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const instance of instances ?? []) await instance.shutdown();
    await database?.close();
  });

  it('a client that reconnects to the other instance resumes without gaps, then follows both live', async () => {
    const [a, b] = instances;
    if (a === undefined || b === undefined) throw new Error('instances not started');
    const publish = (instance: Harness, n: number) =>
      instance.publishApplied(`e-multi-${n}`, { aggregateId: 'multi-1', version: n });

    const first = await open(a);
    for (let n = 1; n <= 3; n += 1) await publish(n % 2 === 0 ? b : a, n);
    await waitFor('three events on instance a', () => first.events.length === 3);
    const lastSeen = first.events.at(-1)?.id ?? '';
    first.close();

    for (let n = 4; n <= 6; n += 1) await publish(n % 2 === 0 ? b : a, n);
    const resumed = await open(b, { 'last-event-id': lastSeen });
    await waitFor('the three missed events on instance b', () => resumed.events.length === 3);
    const watcher = await open(a, { 'last-event-id': lastSeen });
    await waitFor('the same three on instance a', () => watcher.events.length === 3);

    // Commits on either instance reach streams on both.
    await Promise.all([
      (async () => {
        for (let n = 7; n <= 30; n += 2) await publish(a, n);
      })(),
      (async () => {
        for (let n = 8; n <= 30; n += 2) await publish(b, n);
      })(),
    ]);
    await waitFor(
      'every event on both streams',
      () => resumed.events.length === 27 && watcher.events.length === 27,
    );
    const expected = Array.from({ length: 27 }, (_, i) => `e-multi-${i + 4}`);
    expect([...eventIds(resumed)].sort()).toEqual([...expected].sort());
    // Both instances serve the log in the same order.
    expect(eventIds(watcher)).toEqual(eventIds(resumed));
    // The resumed streams began with the three missed events (in log order, which is commit order).
    expect([...eventIds(resumed).slice(0, 3)].sort()).toEqual(['e-multi-4', 'e-multi-5', 'e-multi-6']);
  });
});
