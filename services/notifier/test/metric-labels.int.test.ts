/**
 * No label of the notifier's metrics holds a URL, a secret or a subscription: endpoints are chosen by
 * subscribers (and their URLs often carry tokens), so they are counted per circuit state, never
 * labelled; deleting a subscription leaves no series of its own behind, and its endpoint stops counting.
 */
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { metricValue, startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';

const TOKEN = 'tok-5f3a9c0e71';

/** Every label value of every sample of the registry's text exposition. */
const labelValues = async (harness: Harness): Promise<string[]> => {
  const text = await harness.metrics.registry.metrics();
  return text
    .split('\n')
    .filter((line) => !line.startsWith('#') && line.includes('{'))
    .flatMap((line) =>
      [...line.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? ''),
    );
};

describe('notifier metric labels', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    receiver = await startReceiver();
    receiver.respond = (path) => (path.startsWith('/down') ? 500 : 200);
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 50 },
      }),
      settings: { circuit: { failureThreshold: 2, halfOpenAfterMs: 60_000 } },
    });
  });

  afterAll(async () => {
    await harness?.shutdown();
    await receiver?.close();
    await database?.close();
  });

  it('labels no series with a webhook URL, its token or a subscription, before or after the subscription is deleted', async () => {
    const subscriptions: string[] = [];
    for (const path of ['/up', '/down']) {
      const created = await harness.subscribe({
        url: `${receiver.url}${path}?token=${TOKEN}`,
        secret: 'secret-labels-0123',
        filter: { aggregateIds: ['labels-*'] },
      });
      expect(created.status).toBe(201);
      subscriptions.push(String(created.json.id));
    }
    for (let i = 1; i <= 4; i += 1)
      await harness.publishApplied(`e-labels-${i}`, { aggregateId: `labels-${i}` });
    await waitFor('a delivery went through', () => receiver.on(`/up?token=${TOKEN}`).length > 0);
    await waitFor(
      'the failing endpoint’s circuit opened',
      async () =>
        ((await metricValue(harness.metrics, 'concord_notifier_circuits', { state: 'open' })) ?? 0) > 0,
    );

    const check = async () => {
      const values = await labelValues(harness);
      expect(values.length).toBeGreaterThan(0);
      const host = new URL(receiver.url).host;
      const offending = values.filter(
        (value) =>
          /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ||
          value.includes(host) ||
          value.includes(TOKEN) ||
          subscriptions.some((id) => value.includes(id)),
      );
      expect(offending).toEqual([]);
    };
    await check();
    for (const id of subscriptions) {
      const response = await fetch(`${harness.url}/v1/subscriptions/${id}`, { method: 'DELETE' });
      expect(response.status).toBe(204);
    }
    await check();
    // The endpoints no subscription uses any more no longer count, whatever their circuit's state (a
    // delivery still in flight when its subscription went may settle after the DELETE answered).
    const counted = async () => {
      let total = 0;
      for (const state of ['closed', 'open', 'half_open', 'isolated'])
        total += (await metricValue(harness.metrics, 'concord_notifier_circuits', { state })) ?? 0;
      return total;
    };
    await waitFor(
      'no endpoint counted once its subscriptions are gone',
      async () => (await counted()) === 0,
      10_000,
    );
  });
});
