/**
 * Webhook dead letters on Postgres and BullMQ: listed a page at a time, replayed with the delivery's own
 * id although BullMQ still remembers the finished job of that id, and refused when the subscription is
 * gone.
 */
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import type { DeadLetterSource } from '@concord/service-kit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createBullMqJobQueue } from '../src/queue/bullmq.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { startNotifier, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';

let database: TestDatabase;
let receiver: Receiver;
let harness: Harness;
let queueRedis: Redis;
let workerRedis: Redis;
let source: DeadLetterSource;
let down = true;
const prefix = `concord-test-${unique()}`;

beforeAll(async () => {
  database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  receiver = await startReceiver();
  receiver.respond = () => (down ? 500 : 200);
  queueRedis = new Redis(inject('REDIS_URL'), { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  workerRedis = new Redis(inject('REDIS_URL'), { maxRetriesPerRequest: null });
  await waitFor('redis', () => queueRedis.status === 'ready');
  const jobQueue = createBullMqJobQueue<DeliveryRef>({
    connection: queueRedis,
    workerConnection: workerRedis,
    queueName: 'webhooks',
    prefix,
    retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 100 },
  });
  harness = await startNotifier({ db: database.db, schema: database.schema, jobQueue });
  source = harness.module.deadLetters;
});

afterAll(async () => {
  await harness?.shutdown();
  if (queueRedis !== undefined) {
    const keys = await queueRedis.keys(`${prefix}:*`);
    if (keys.length > 0) await queueRedis.del(...keys);
    await queueRedis.quit();
  }
  await workerRedis?.quit();
  await receiver?.close();
  await database?.close();
});

const subscribe = async (path: string, aggregate: string): Promise<string> => {
  const created = await harness.subscribe({
    url: `${receiver.url}${path}`,
    secret: 'dead-letter-secret-0123',
    filter: { aggregateIds: [aggregate], topics: ['concord.events.applied'] },
  });
  expect(created.status).toBe(201);
  return String(created.json.id);
};

it('lists dead deliveries, replays one with its delivery id through BullMQ, refuses one without subscription', async () => {
  const kept = await subscribe('/kept', 'kept-1');
  const dropped = await subscribe('/dropped', 'dropped-1');
  await harness.publishApplied('e-kept', { aggregateId: 'kept-1' });
  await harness.publishApplied('e-dropped', { aggregateId: 'dropped-1' });
  await waitFor('two dead letters', async () => {
    const page = await source.list({ limit: 10, filter: {} });
    return page.deadLetters.length === 2;
  });

  const first = await source.list({ limit: 1, filter: {} });
  expect(first.deadLetters).toHaveLength(1);
  expect(first.next).not.toBeNull();
  const second = await source.list({ limit: 1, after: first.next ?? '', filter: {} });
  expect(second.deadLetters).toHaveLength(1);
  expect((await source.list({ limit: 1, after: second.next ?? '', filter: {} })).next).toBeNull();
  const [letter] = (await source.list({ limit: 10, filter: { subscriptionId: kept } })).deadLetters;
  expect(letter).toMatchObject({
    kind: 'webhook',
    subscriptionId: kept,
    attempts: 2,
    errorCode: 'CONCORD_WEBHOOK_DELIVERY_FAILED',
    url: `${receiver.url}/kept`,
  });
  const deliveryId = letter?.id ?? '';
  const [gone] = (await source.list({ limit: 10, filter: { subscriptionId: dropped } })).deadLetters;
  const goneId = gone?.id ?? '';

  // The subscription of one is deleted: nothing to deliver it to, so it stays.
  expect((await fetch(`${harness.url}/v1/subscriptions/${dropped}`, { method: 'DELETE' })).status).toBe(204);
  expect(await source.replay([goneId, 'd0-nothing'])).toEqual({
    replayed: [],
    missing: ['d0-nothing'],
    refused: [{ id: goneId, reason: 'subscription_deleted', message: expect.any(String) }],
  });
  expect(await source.replayMatching({ subscriptionId: dropped }, 10)).toEqual({ replayed: [], more: false });

  down = false;
  const before = receiver.received.filter((r) => r.path === '/kept').length;
  expect(await source.replay([deliveryId])).toMatchObject({
    replayed: [deliveryId],
    missing: [],
    refused: [],
  });
  await waitFor(
    'the replayed delivery',
    () => receiver.received.filter((r) => r.path === '/kept').length > before,
  );
  const replayed = receiver.received.filter((r) => r.path === '/kept').slice(before);
  expect(replayed.map((r) => r.headers['webhook-id'])).toEqual([deliveryId]);
  expect(replayed[0]?.headers['x-concord-attempt']).toBe('1');
  await waitFor('the delivery recorded', async () => {
    const { rows } = await database.db.query<{ status: string }>(
      `SELECT status FROM concord.notifier_deliveries WHERE id = $1`,
      [deliveryId],
    );
    return rows[0]?.status === 'delivered';
  });
  expect((await source.list({ limit: 10, filter: {} })).deadLetters.map((d) => d.id)).toEqual([goneId]);
});
