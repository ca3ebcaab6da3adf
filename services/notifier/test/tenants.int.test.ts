import { TENANT_SEPARATOR, scopeId } from '@concord/core/envelope';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { authEnvShape, httpAccessFromEnv, loadConfig } from '@concord/service-kit';
import { signTestToken } from '@concord/service-kit/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { metricValue, startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver, verifyReceived } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';
import { openStream } from './support/sse-client.js';
import type { SseClient, SseEvent } from './support/sse-client.js';

const SECRET = 'notifier-tenants-test-secret-32-chars+';

/** The tenants of these tests: two named ones and the default (a credential without a tenant). */
const TENANTS = [
  { name: 'acme', tenant: 'acme' },
  { name: 'globex', tenant: 'globex' },
  { name: 'default', tenant: undefined },
] as const;
type TenantName = (typeof TENANTS)[number]['name'];

/** What the subscription routes answer, as far as these tests read it. */
interface Answer {
  readonly id?: string;
  readonly subscriptions?: readonly { readonly id: string }[];
  readonly error?: { readonly code: string };
}

/**
 * Every tenant writes the same event ids to the same aggregate id: as stored and published they differ
 * only by their tenant's prefix (DESIGN §5 "Tenants"). Each payload names its tenant in `changes.title`,
 * so what a subscriber or a stream receives tells whose it is.
 */
describe('the notifier keeps tenants apart', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;
  const tokens = new Map<TenantName, string>();
  const clients: SseClient[] = [];

  const tenantOf = (name: TenantName) => TENANTS.find((entry) => entry.name === name)?.tenant;

  const call = async (name: TenantName, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${harness.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens.get(name)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: (text === '' ? {} : JSON.parse(text)) as Answer };
  };

  const subscribe = async (name: TenantName, body: Record<string, unknown>): Promise<string> => {
    const created = await call(name, 'POST', '/v1/subscriptions', body);
    expect(created.status).toBe(201);
    return String(created.json.id);
  };

  const logged = async (messageId: string) => {
    await waitFor(`${JSON.stringify(messageId)} logged`, async () => {
      const { rows } = await database.db.query(
        `SELECT 1 FROM ${database.schema}.notifier_log WHERE message_id = $1`,
        [messageId],
      );
      return rows.length === 1;
    });
  };

  /** Publishes `eventId` of `name`'s aggregate `task-1` and waits until it is logged (so log order is publish order). */
  const publish = async (name: TenantName, eventId: string) => {
    const tenant = tenantOf(name);
    const scoped = scopeId(tenant, eventId);
    await harness.publishApplied(scoped, {
      aggregateId: scopeId(tenant, 'task-1'),
      changes: { title: name },
    });
    await logged(`${scoped}:applied`);
  };

  const open = async (name: TenantName, query = '', headers: Record<string, string> = {}) => {
    const client = await openStream(`${harness.url}/v1/stream${query}`, {
      authorization: `Bearer ${tokens.get(name)}`,
      ...headers,
    });
    expect(client.status).toBe(200);
    clients.push(client);
    return client;
  };

  /** Whose event each is (its title), and its ids, from a notification or a CloudEvent. */
  const seen = (events: readonly SseEvent[]) =>
    events.map((event) => {
      const data = JSON.parse(event.data);
      return data.specversion === undefined
        ? `${data.data.changes.title} ${data.eventId} ${data.aggregateId}`
        : `${data.data.changes.title} ${data.eventid} ${data.subject}`;
    });

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    receiver = await startReceiver();
    const access = await httpAccessFromEnv(
      loadConfig(z.object(authEnvShape), { CONCORD_AUTH_JWT_SECRET: SECRET }),
    );
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      }),
      access,
    });
    for (const { name, tenant } of TENANTS) {
      tokens.set(
        name,
        await signTestToken({
          secret: SECRET,
          subject: `${name}-app`,
          scope: 'subscriptions:manage events:read',
          ...(tenant === undefined ? {} : { tenant }),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await harness?.shutdown();
    await receiver?.close();
    await database?.close();
  });

  it("delivers each tenant's subscription only its own notifications, with its plain ids, signed over the body sent", async () => {
    const secrets = {
      acme: 'acme-secret-0123456789',
      globex: 'globex-secret-0123456789',
      default: 'default-secret-0123456789',
    };
    // A filter names plain ids; globex takes CloudEvents.
    for (const { name } of TENANTS) {
      await subscribe(name, {
        url: `${receiver.url}/hooks/${name}`,
        secret: secrets[name],
        filter: { aggregateIds: ['task-*'] },
        ...(name === 'globex' ? { format: 'cloudevents' } : {}),
      });
    }
    for (const { name } of TENANTS) await publish(name, 'e-hook');

    for (const { name } of TENANTS) {
      await waitFor(`a delivery to ${name}`, () => receiver.on(`/hooks/${name}`).length >= 1);
    }
    const { rows } = await database.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${database.schema}.notifier_deliveries`,
    );
    expect(rows[0]?.n).toBe(3);
    for (const { name } of TENANTS) {
      const requests = receiver.on(`/hooks/${name}`);
      expect(requests).toHaveLength(1);
      const request = requests[0];
      if (request === undefined) throw new Error('no request');
      expect(request.body).not.toContain(TENANT_SEPARATOR);
      expect(verifyReceived(request, secrets[name])).toBe('verified');
      const body = JSON.parse(request.body);
      if (name === 'globex') {
        expect(body).toMatchObject({
          id: 'e-hook:applied',
          subject: 'task-1',
          eventid: 'e-hook',
          data: { eventId: 'e-hook', aggregateId: 'task-1', changes: { title: 'globex' } },
        });
      } else {
        expect(body).toMatchObject({
          messageId: 'e-hook:applied',
          eventId: 'e-hook',
          aggregateId: 'task-1',
          data: { eventId: 'e-hook', aggregateId: 'task-1', changes: { title: name } },
        });
      }
    }
  });

  it('streams each tenant only its own notifications, live and from Last-Event-ID, with its plain ids', async () => {
    const live = new Map<TenantName, SseClient>();
    for (const { name } of TENANTS) {
      live.set(name, await open(name, name === 'globex' ? '?format=cloudevents' : ''));
    }
    await waitFor(
      'streams connected',
      async () => (await metricValue(harness.metrics, 'concord_notifier_sse_clients')) === TENANTS.length,
    );
    // Every tenant's entries come before the last one each stream waits for.
    for (const round of ['e-live-1', 'e-live-2']) for (const { name } of TENANTS) await publish(name, round);

    for (const { name } of TENANTS) {
      const client = live.get(name) as SseClient;
      const pair = [`${name} e-live-1 task-1`, `${name} e-live-2 task-1`];
      await waitFor(`${name} sees its e-live-2`, () => seen(client.events).includes(pair[1] as string));
      expect(client.events.every((event) => !event.data.includes(TENANT_SEPARATOR))).toBe(true);
      // "From now" may start a little before the present (the log's readable head): its own e-hook may come too.
      expect(seen(client.events).filter((event) => event !== `${name} e-hook task-1`)).toEqual(pair);
    }

    // Catching up reads the tenant's own entries of the log (each tenant has its e-hook before these).
    for (const { name } of TENANTS) {
      const replay = await open(name, '', { 'last-event-id': '0' });
      await waitFor(`${name} replays its three`, () => replay.events.length >= 3);
      expect(seen(replay.events)).toEqual([
        `${name} e-hook task-1`,
        `${name} e-live-1 task-1`,
        `${name} e-live-2 task-1`,
      ]);
      const first = replay.events[0]?.id ?? '';
      const resumed = await open(name, '', { 'last-event-id': first });
      await waitFor(`${name} resumes after its first`, () => resumed.events.length >= 2);
      expect(seen(resumed.events)).toEqual([`${name} e-live-1 task-1`, `${name} e-live-2 task-1`]);
    }
  });

  it("cancels a delivery of another tenant's notification (one made before subscriptions had tenants), sending nothing", async () => {
    const cancelled = async () =>
      (await metricValue(harness.metrics, 'concord_notifier_webhook_deliveries_total', {
        result: 'cancelled',
      })) ?? 0;
    const before = await cancelled();
    const subscription = await subscribe('default', {
      url: `${receiver.url}/hooks/stale`,
      secret: 'stale-secret-0123456789',
    });
    await publish('acme', 'e-stale');
    // As the notifier made deliveries before subscriptions had tenants: acme's notification to a
    // subscription of the default tenant.
    await database.db.query(
      `INSERT INTO ${database.schema}.notifier_deliveries (id, notification_id, subscription_id)
       SELECT 'stale-' || l.id, l.id, $2 FROM ${database.schema}.notifier_log l WHERE l.message_id = $1`,
      [`${scopeId('acme', 'e-stale')}:applied`, subscription],
    );
    await waitFor('the delivery cancelled', async () => (await cancelled()) > before);
    expect(receiver.on('/hooks/stale')).toEqual([]);
  });

  describe("another tenant's subscription", () => {
    let globexId = '';
    let acmeId = '';
    let defaultId = '';

    beforeAll(async () => {
      const body = (name: string) => ({
        url: `${receiver.url}/owned/${name}`,
        secret: 'owned-secret-0123456789',
      });
      globexId = await subscribe('globex', body('globex'));
      acmeId = await subscribe('acme', body('acme'));
      defaultId = await subscribe('default', body('default'));
    });

    const notFound = (answer: { status: number; json: Answer }) => {
      expect(answer.status).toBe(404);
      expect(answer.json.error?.code).toBe('CONCORD_SUBSCRIPTION_NOT_FOUND');
    };

    it('is absent from the list', async () => {
      const ids = async (name: TenantName) =>
        ((await call(name, 'GET', '/v1/subscriptions')).json.subscriptions ?? []).map((s) => s.id);
      const acme = await ids('acme');
      expect(acme).toContain(acmeId);
      expect(acme).not.toContain(globexId);
      expect(acme).not.toContain(defaultId);
      const fallback = await ids('default');
      expect(fallback).toContain(defaultId);
      expect(fallback).not.toContain(globexId);
      expect(fallback).not.toContain(acmeId);
      expect(await ids('globex')).toContain(globexId);
    });

    it('is not found by GET /v1/subscriptions/:id', async () => {
      notFound(await call('acme', 'GET', `/v1/subscriptions/${globexId}`));
      notFound(await call('default', 'GET', `/v1/subscriptions/${globexId}`));
      notFound(await call('acme', 'GET', `/v1/subscriptions/${defaultId}`));
      expect((await call('globex', 'GET', `/v1/subscriptions/${globexId}`)).status).toBe(200);
    });

    it('is not found by GET /v1/subscriptions/:id/dead-letters', async () => {
      notFound(await call('acme', 'GET', `/v1/subscriptions/${globexId}/dead-letters`));
      notFound(await call('default', 'GET', `/v1/subscriptions/${acmeId}/dead-letters`));
      expect((await call('globex', 'GET', `/v1/subscriptions/${globexId}/dead-letters`)).status).toBe(200);
    });

    it('is not found by POST /v1/subscriptions/:id/secret, which leaves it as it was', async () => {
      const rotation = { secret: 'rotated-secret-0123456789', previousSecretTtlSeconds: 3_600 };
      notFound(await call('acme', 'POST', `/v1/subscriptions/${globexId}/secret`, rotation));
      notFound(await call('default', 'POST', `/v1/subscriptions/${globexId}/secret`, rotation));
      // Not rotated: its owner's rotation with a grace period is not refused as one already running.
      expect((await call('globex', 'POST', `/v1/subscriptions/${globexId}/secret`, rotation)).status).toBe(
        200,
      );
    });

    it('is not found by DELETE /v1/subscriptions/:id, which leaves it in place', async () => {
      notFound(await call('acme', 'DELETE', `/v1/subscriptions/${globexId}`));
      notFound(await call('default', 'DELETE', `/v1/subscriptions/${globexId}`));
      expect((await call('globex', 'GET', `/v1/subscriptions/${globexId}`)).status).toBe(200);
      expect((await call('globex', 'DELETE', `/v1/subscriptions/${globexId}`)).status).toBe(204);
    });
  });
});
