import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBullMqJobQueue } from '../src/queue/bullmq.js';
import type { JobQueue } from '../src/queue/port.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { delay, metricValue, startNotifier, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver, verifyReceived } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';

describe('notifier webhooks on Postgres and BullMQ', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;
  let queueRedis: Redis;
  let workerRedis: Redis;
  const prefix = `concord-test-${unique()}`;
  const outage = { failing: false };
  const deadLetterOutage = { failures: 0 };
  const down = new Set<string>();

  const sql = <R>(text: string, params: unknown[] = []) => database.db.query<R>(text, params);
  const deliveryRows = (subscriptionId: string) =>
    sql<{ id: string; status: string; attempts: number }>(
      `SELECT id, status, attempts FROM concord.notifier_deliveries WHERE subscription_id = $1 ORDER BY id`,
      [subscriptionId],
    ).then((result) => result.rows);

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    receiver = await startReceiver();
    receiver.respond = (path) => (path.startsWith('/fail?') || down.has(path) ? 500 : 200);
    queueRedis = new Redis(inject('REDIS_URL'), { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    workerRedis = new Redis(inject('REDIS_URL'), { maxRetriesPerRequest: null });
    await waitFor('redis', () => queueRedis.status === 'ready');
    const bullmq = createBullMqJobQueue<DeliveryRef>({
      connection: queueRedis,
      workerConnection: workerRedis,
      queueName: 'webhooks',
      prefix,
      retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200 },
      concurrency: 8,
    });
    // Stands in for Redis being unreachable after the consumer's commit.
    const jobQueue: JobQueue<DeliveryRef> = {
      ...bullmq,
      enqueue: (jobs) =>
        outage.failing ? Promise.reject(new Error('redis unavailable')) : bullmq.enqueue(jobs),
      // Stands in for Postgres refusing the dead letter's write.
      start: (handlers) =>
        bullmq.start({
          ...handlers,
          onDeadLetter: (job, info) => {
            if (deadLetterOutage.failures === 0) return handlers.onDeadLetter(job, info);
            deadLetterOutage.failures -= 1;
            return Promise.reject(new Error('database unavailable'));
          },
        }),
    };
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue,
      // Long enough that the circuit test's checks while the circuit is open end before the half-open
      // trial, also on a loaded machine (1.5 s let a trial request in under a full CI run).
      settings: { circuit: { failureThreshold: 3, halfOpenAfterMs: 4_000 } },
    });
  });

  afterAll(async () => {
    await harness?.shutdown();
    if (queueRedis !== undefined) {
      let cursor = '0';
      do {
        const [next, keys] = await queueRedis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await queueRedis.del(...keys);
      } while (cursor !== '0');
      await queueRedis.quit();
    }
    await workerRedis?.quit();
    await receiver?.close();
    await database?.close();
  });

  it('delivers signed webhooks to matching subscriptions only', async () => {
    const secret = 'secret-ok-0123456789';
    const created = await harness.subscribe({
      url: `${receiver.url}/ok`,
      secret,
      filter: { aggregateIds: ['ok-*'] },
    });
    expect(created.status).toBe(201);
    expect(created.json).not.toHaveProperty('secret');
    expect(created.json.url).toBe(`${receiver.url}/ok`);
    const subscriptionId = String(created.json.id);

    await harness.publishApplied('e-other', { aggregateId: 'other-1' });
    await harness.publishApplied('e-ok-1', { aggregateId: 'ok-1' });
    await waitFor('delivery to /ok', () => receiver.on('/ok').length === 1);
    await waitFor('both notifications logged', async () => {
      const { rows } = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM concord.notifier_log`);
      return (rows[0]?.n ?? 0) >= 2;
    });

    const request = receiver.on('/ok')[0];
    if (request === undefined) throw new Error('no request');
    // Standard Webhooks: webhook-id (the delivery id), webhook-timestamp, v1 signature of id.timestamp.body.
    expect(verifyReceived(request, secret)).toBe('verified');
    expect(verifyReceived(request, 'wrong-secret-0123')).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');
    // A captured delivery replayed after the tolerance is refused.
    expect(verifyReceived(request, secret, 301_000)).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD');
    expect(request.headers).not.toHaveProperty('x-concord-signature');
    expect(request.headers).not.toHaveProperty('x-concord-timestamp');
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      kind: 'applied',
      topic: 'concord.events.applied',
      eventId: 'e-ok-1',
      eventType: 'TaskUpdated',
      aggregateType: 'task',
      aggregateId: 'ok-1',
      outcome: 'applied',
      messageId: 'e-ok-1:applied',
      data: { kind: 'applied', eventId: 'e-ok-1', version: 1 },
    });
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-concord-event']).toBe('applied');
    expect(request.headers['webhook-id']).toBe(`d${body.id}-${subscriptionId}`);
    expect(request.headers['x-concord-delivery-id']).toBe(request.headers['webhook-id']);
    expect(request.headers['x-concord-subscription-id']).toBe(subscriptionId);
    expect(Math.abs(Number(request.headers['webhook-timestamp']) * 1000 - request.receivedAt)).toBeLessThan(
      2_000,
    );

    await waitFor(
      'delivery marked delivered',
      async () => (await deliveryRows(subscriptionId))[0]?.status === 'delivered',
    );
    expect(await deliveryRows(subscriptionId)).toHaveLength(1);
    expect(
      await metricValue(harness.metrics, 'concord_notifier_webhook_deliveries_total', {
        result: 'delivered',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('a stored filter that no longer compiles (a backreference) matches nothing and stops no delivery', async () => {
    const legacy = `legacy-${unique()}`;
    await sql(
      `INSERT INTO concord.notifier_subscriptions (id, url, filter, secret) VALUES ($1, $2, $3::jsonb, $4)`,
      [
        legacy,
        `${receiver.url}/legacy`,
        JSON.stringify({ aggregateIds: ['re:^(lg)\\1$'] }),
        'secret-legacy-0123',
      ],
    );
    const created = await harness.subscribe({
      url: `${receiver.url}/current`,
      secret: 'secret-current-0123',
      filter: { aggregateIds: ['lg*'] },
    });
    try {
      await harness.publishApplied('e-lglg', { aggregateId: 'lglg' });
      await waitFor('delivery to the valid subscription', () => receiver.on('/current').length === 1);
      expect(await deliveryRows(legacy)).toEqual([]);
      expect(receiver.on('/legacy')).toEqual([]);
    } finally {
      await sql(`DELETE FROM concord.notifier_subscriptions WHERE id = ANY($1)`, [
        [legacy, String(created.json.id)],
      ]);
    }
  });

  it('does not duplicate notifications or deliveries when the bus redelivers a message', async () => {
    const created = await harness.subscribe({
      url: `${receiver.url}/dedupe`,
      secret: 'secret-dedupe-0123',
      filter: { aggregateIds: ['dedupe-*'] },
    });
    await harness.publishApplied('e-dup', { aggregateId: 'dedupe-1' });
    await harness.publishApplied('e-dup', { aggregateId: 'dedupe-1' });
    // Same key, published after the duplicate: once it arrives, the duplicate has been handled.
    await harness.publishApplied('e-dup-marker', { aggregateId: 'dedupe-1' });
    await waitFor('marker delivered', () =>
      receiver.on('/dedupe').some((request) => request.body.includes('"e-dup-marker"')),
    );
    // Webhook jobs run concurrently, so the marker's POST can land before the first one's.
    await waitFor('every delivery settled', async () =>
      (await deliveryRows(String(created.json.id))).every((row) => row.status === 'delivered'),
    );
    const { rows } = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM concord.notifier_log WHERE message_id = 'e-dup:applied'`,
    );
    expect(rows[0]?.n).toBe(1);
    expect(receiver.on('/dedupe').filter((request) => request.body.includes('"e-dup"'))).toHaveLength(1);
    expect(await deliveryRows(String(created.json.id))).toHaveLength(2);
  });

  it('retries a failing receiver with the same delivery id, then dead-letters it with the last error', async () => {
    const path = '/fail?token=fail-token-value';
    const secret = 'whsec_c2VjcmV0LWZhaWwtMDEyMw==';
    const created = await harness.subscribe({
      url: `${receiver.url}${path}`,
      secret,
      filter: { aggregateIds: ['fail-*'] },
    });
    const subscriptionId = String(created.json.id);
    const before = (await metricValue(harness.metrics, 'concord_notifier_dead_letters_total')) ?? 0;
    await harness.publishApplied('e-fail', { aggregateId: 'fail-1' });

    const letters = async () => {
      const response = await fetch(`${harness.url}/v1/subscriptions/${subscriptionId}/dead-letters`);
      return ((await response.json()) as { deadLetters: Record<string, unknown>[] }).deadLetters;
    };
    await waitFor('dead letter', async () => (await letters()).length === 1);
    const [letter] = await letters();
    // The dead-letter view masks the token the URL carries; the attempts went to the whole URL.
    expect(JSON.stringify(letter)).not.toContain('fail-token-value');
    expect(letter).toMatchObject({
      subscriptionId,
      url: `${receiver.url}/fail?token=***`,
      attempts: 3,
      errorCode: 'CONCORD_WEBHOOK_DELIVERY_FAILED',
      lastError: 'webhook answered 500',
      lastStatus: 500,
    });
    const attempts = receiver.on(path);
    expect(attempts).toHaveLength(3);
    // One webhook-id across retries, each attempt signed afresh (a whsec_ secret) and verifiable.
    expect(new Set(attempts.map((request) => request.headers['webhook-id'])).size).toBe(1);
    expect(new Set(attempts.map((request) => request.headers['x-concord-delivery-id'])).size).toBe(1);
    expect(attempts.map((request) => verifyReceived(request, secret))).toEqual([
      'verified',
      'verified',
      'verified',
    ]);
    expect(attempts.map((request) => request.headers['x-concord-attempt'])).toEqual(['1', '2', '3']);
    expect((await deliveryRows(subscriptionId))[0]).toMatchObject({ status: 'dead', attempts: 3 });
    expect(await metricValue(harness.metrics, 'concord_notifier_dead_letters_total')).toBe(before + 1);
  });

  it('keeps a delivery whose dead letter cannot be written, and dead-letters it on a later try', async () => {
    const path = '/unrecorded';
    down.add(path);
    const created = await harness.subscribe({
      url: `${receiver.url}${path}`,
      secret: 'secret-unrecorded-0123',
      filter: { aggregateIds: ['unrecorded-*'] },
    });
    const subscriptionId = String(created.json.id);
    deadLetterOutage.failures = 1;
    await harness.publishApplied('e-unrecorded', { aggregateId: 'unrecorded-1' });

    await waitFor(
      'delivery dead-lettered',
      async () => (await deliveryRows(subscriptionId))[0]?.status === 'dead',
    );
    expect(deadLetterOutage.failures).toBe(0);
    const { rows } = await sql<{ attempts: number; error_code: string; last_status: number }>(
      `SELECT attempts, error_code, last_status FROM concord.notifier_dead_letters WHERE subscription_id = $1`,
      [subscriptionId],
    );
    expect(rows).toEqual([{ attempts: 3, error_code: 'CONCORD_WEBHOOK_DELIVERY_FAILED', last_status: 500 }]);
    // The last attempt, whose outcome went unrecorded, ran again; it counted once.
    expect(receiver.on(path).map((request) => request.headers['x-concord-attempt'])).toEqual([
      '1',
      '2',
      '3',
      '3',
    ]);
  });

  it('opens the circuit of a failing endpoint and delays its jobs instead of burning their attempts', async () => {
    const path = '/flaky';
    const endpoint = `${receiver.url}${path}`;
    down.add(path);
    const created = await harness.subscribe({
      url: endpoint,
      secret: 'secret-flaky-0123',
      filter: { aggregateIds: ['cb-*'] },
    });
    const subscriptionId = String(created.json.id);
    const delayedBefore =
      (await metricValue(harness.metrics, 'concord_notifier_webhook_deliveries_total', {
        result: 'circuit_open',
      })) ?? 0;
    const openCircuits = async () =>
      (await metricValue(harness.metrics, 'concord_notifier_circuits', { state: 'open' })) ?? 0;
    const openBefore = await openCircuits();
    for (let i = 1; i <= 6; i += 1) await harness.publishApplied(`e-cb-${i}`, { aggregateId: `cb-${i}` });

    await waitFor('circuit open', async () => (await openCircuits()) > openBefore);
    await waitFor(
      'jobs delayed by the open circuit',
      async () =>
        ((await metricValue(harness.metrics, 'concord_notifier_webhook_deliveries_total', {
          result: 'circuit_open',
        })) ?? 0) > delayedBefore,
    );
    // Requests sent before the circuit opened may still be arriving: count once the hits have settled.
    let settled = -1;
    await waitFor('the hits sent before the circuit opened to arrive', async () => {
      const now = receiver.on(path).length;
      if (now === settled) return true;
      settled = now;
      await delay(300);
      return false;
    });
    const hitsWhileOpen = receiver.on(path).length;
    expect(hitsWhileOpen).toBeGreaterThanOrEqual(3);
    expect(hitsWhileOpen).toBeLessThanOrEqual(6);
    await delay(500);
    expect(receiver.on(path).length).toBe(hitsWhileOpen);

    down.delete(path);
    await waitFor(
      'all six delivered after the half-open trial',
      async () =>
        (await deliveryRows(subscriptionId)).filter((row) => row.status === 'delivered').length === 6,
    );
    expect(await openCircuits()).toBe(openBefore);
    // Issue 16: webhook URLs are chosen by whoever subscribes; as labels, every endpoint added series.
    expect(await harness.metrics.registry.metrics()).not.toContain(receiver.url);
    const rows = await deliveryRows(subscriptionId);
    expect(rows.every((row) => row.attempts <= 2)).toBe(true);
    const { rows: dead } = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM concord.notifier_dead_letters WHERE subscription_id = $1`,
      [subscriptionId],
    );
    expect(dead[0]?.n).toBe(0);
  });

  it('keeps committed deliveries pending while the queue is unavailable and dispatches them afterwards', async () => {
    const created = await harness.subscribe({
      url: `${receiver.url}/outage`,
      secret: 'secret-outage-0123',
      filter: { aggregateIds: ['outage-*'] },
    });
    const subscriptionId = String(created.json.id);
    const errorsBefore = (await metricValue(harness.metrics, 'concord_notifier_dispatch_errors_total')) ?? 0;
    outage.failing = true;
    try {
      await harness.publishApplied('e-outage', { aggregateId: 'outage-1' });
      await waitFor('delivery committed', async () => (await deliveryRows(subscriptionId)).length === 1);
      await waitFor(
        'dispatch failing',
        async () =>
          ((await metricValue(harness.metrics, 'concord_notifier_dispatch_errors_total')) ?? 0) >
          errorsBefore,
      );
      await delay(300);
      expect((await deliveryRows(subscriptionId))[0]?.status).toBe('pending');
      expect(receiver.on('/outage')).toHaveLength(0);
    } finally {
      outage.failing = false;
    }
    await waitFor('delivered after the outage', () => receiver.on('/outage').length === 1);
    await waitFor(
      'marked delivered',
      async () => (await deliveryRows(subscriptionId))[0]?.status === 'delivered',
    );
  });
});
