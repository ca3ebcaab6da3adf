import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { startNotifier, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver, verifyReceived } from './support/receiver.js';
import type { ReceivedRequest, Receiver } from './support/receiver.js';

describe('webhook secret rotation', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    receiver = await startReceiver();
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      }),
    });
  });

  afterAll(async () => {
    await harness?.shutdown();
    await receiver?.close();
    await database?.close();
  });

  const rotate = async (id: string, body: unknown) => {
    const response = await fetch(`${harness.url}/v1/subscriptions/${id}/secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  /** Moves a rotation's grace period into the past (the database's clock times it). */
  const endGracePeriod = (id: string) =>
    database.db.query(
      `UPDATE concord.notifier_subscriptions SET previous_secret_expires_at = clock_timestamp() - interval '1 second'
       WHERE id = $1`,
      [id],
    );

  const codeOf = (json: Record<string, unknown>) => (json['error'] as { code?: string } | undefined)?.code;

  /** Publishes one applied event for `aggregateId` and returns the webhook it caused. */
  const deliver = async (path: string, aggregateId: string): Promise<ReceivedRequest> => {
    const before = receiver.on(path).length;
    await harness.publishApplied(`e-${unique()}`, { aggregateId });
    await waitFor(`a delivery to ${path}`, () => receiver.on(path).length > before);
    const request = receiver.on(path)[before];
    if (request === undefined) throw new Error('no request');
    return request;
  };

  const signatures = (request: ReceivedRequest) => String(request.headers['webhook-signature']).split(' ');

  it('signs with the old and the new secret during the grace period, then with the new one only', async () => {
    const path = `/rotate-${unique()}`;
    const first = 'first-secret-0123';
    const second = 'whsec_c2Vjb25kLXNlY3JldC1rZXktMDEyMw==';
    const third = 'third-secret-4567';
    const created = await harness.subscribe({
      url: `${receiver.url}${path}`,
      secret: first,
      filter: { aggregateIds: ['rot-*'] },
    });
    expect(created.status).toBe(201);
    const id = String(created.json['id']);

    const before = await deliver(path, 'rot-1');
    expect(signatures(before)).toHaveLength(1);
    expect(verifyReceived(before, first)).toBe('verified');

    const started = Date.now();
    const rotated = await rotate(id, { secret: second });
    expect(rotated.status).toBe(200);
    // The default grace period is a day.
    const expiresAt = Date.parse(String(rotated.json['previousSecretExpiresAt']));
    expect(expiresAt - started).toBeGreaterThan(86_390_000);
    expect(expiresAt - started).toBeLessThan(86_410_000);

    // A receiver still on the first secret and one already on the second both verify.
    const during = await deliver(path, 'rot-2');
    expect(signatures(during)).toHaveLength(2);
    expect(verifyReceived(during, first)).toBe('verified');
    expect(verifyReceived(during, second)).toBe('verified');

    // While that grace period runs, another rotation with one of its own would end it early: refused.
    const early = await rotate(id, { secret: third, previousSecretTtlSeconds: 60 });
    expect(early.status).toBe(409);
    expect(codeOf(early.json)).toBe('CONCORD_SUBSCRIPTION_ROTATION_PENDING');
    expect(verifyReceived(await deliver(path, 'rot-2b'), first)).toBe('verified');

    // Once the grace period is over, only the new secret signs, and the next rotation is taken.
    await endGracePeriod(id);
    const ended = await deliver(path, 'rot-2c');
    expect(signatures(ended)).toHaveLength(1);
    expect(verifyReceived(ended, second)).toBe('verified');
    expect(verifyReceived(ended, first)).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');
    const short = await rotate(id, { secret: third, previousSecretTtlSeconds: 60 });
    expect(short.status).toBe(200);
    await endGracePeriod(id);
    const after = await deliver(path, 'rot-3');
    expect(signatures(after)).toHaveLength(1);
    expect(verifyReceived(after, third)).toBe('verified');
    expect(verifyReceived(after, second)).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');
    expect(verifyReceived(after, first)).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');

    // 0: the replaced secret stops signing at once, and is taken during a grace period too.
    expect((await rotate(id, { secret: second, previousSecretTtlSeconds: 60 })).status).toBe(200);
    const immediate = await rotate(id, { secret: first, previousSecretTtlSeconds: 0 });
    expect(immediate.json).toEqual({ id, previousSecretExpiresAt: null });
    const last = await deliver(path, 'rot-4');
    expect(signatures(last)).toHaveLength(1);
    expect(verifyReceived(last, first)).toBe('verified');
    expect(verifyReceived(last, third)).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');

    // The secret is never shown.
    const view = await (await fetch(`${harness.url}/v1/subscriptions/${id}`)).text();
    for (const secret of [first, second, third]) expect(view).not.toContain(secret);
  });

  it('refuses a bad rotation with a stable code and leaves the secret as it was', async () => {
    const path = `/rotate-${unique()}`;
    const secret = 'kept-secret-0123';
    const created = await harness.subscribe({
      url: `${receiver.url}${path}`,
      secret,
      filter: { aggregateIds: ['kept-*'] },
    });
    const id = String(created.json['id']);
    for (const body of [
      {},
      { secret: 'short' },
      { secret: 'whsec_!!!' },
      { secret: 'long-enough-secret', previousSecretTtlSeconds: -1 },
      { secret: 'long-enough-secret', previousSecretTtlSeconds: 8 * 86_400 },
      { secret: 'long-enough-secret', previousSecretTtlSeconds: 1.5 },
    ]) {
      const refused = await rotate(id, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(codeOf(refused.json)).toBe('CONCORD_SUBSCRIPTION_INVALID');
    }
    const unknown = await rotate('no-such-subscription', { secret: 'long-enough-secret' });
    expect(unknown.status).toBe(404);
    expect(codeOf(unknown.json)).toBe('CONCORD_SUBSCRIPTION_NOT_FOUND');

    const request = await deliver(path, 'kept-1');
    expect(signatures(request)).toHaveLength(1);
    expect(verifyReceived(request, secret)).toBe('verified');
  });
});
