import { silentLogger } from '@concord/core';
import { createMemoryBus } from '@concord/bus';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createHttpServer, createMetrics } from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createNotifierModule } from '../src/module.js';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';

describe('subscriptions API (private URLs refused)', () => {
  let database: TestDatabase;
  let http: HttpServer;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    const metrics = createMetrics('notifier');
    const module = createNotifierModule({
      db: database.db,
      bus: createMemoryBus(),
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      }),
      logger: silentLogger,
      metrics,
      schema: database.schema,
      resolveHost: (host) =>
        host === 'hooks.example.com'
          ? Promise.resolve(['93.184.216.34'])
          : host === 'intranet.example.com'
            ? Promise.resolve(['192.168.10.20'])
            : Promise.reject(new Error('ENOTFOUND')),
    });
    http = createHttpServer({ logger: silentLogger, metrics, checks: [], bodyLimit: 1024 * 1024 });
    await module.routes?.(http.app);
  });

  afterAll(async () => {
    await http?.close();
    await database?.close();
  });

  const post = (body: unknown) =>
    http.app.inject({ method: 'POST', url: '/v1/subscriptions', payload: body as Record<string, unknown> });

  it('creates, lists, reads and deletes a subscription, never echoing the secret', async () => {
    const created = await post({
      url: 'https://hooks.example.com/concord',
      secret: 'super-secret-value',
      filter: { eventTypes: ['TaskUpdated'], aggregateIds: ['task-*'], outcomes: ['applied', 'merged'] },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toEqual({
      id: expect.any(String),
      url: 'https://hooks.example.com/concord',
      filter: { eventTypes: ['TaskUpdated'], aggregateIds: ['task-*'], outcomes: ['applied', 'merged'] },
      format: 'json',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(created.headers.location).toBe(`/v1/subscriptions/${body.id}`);
    expect(created.body).not.toContain('super-secret-value');

    const list = await http.app.inject({ method: 'GET', url: '/v1/subscriptions' });
    expect(list.statusCode).toBe(200);
    expect(list.json().subscriptions).toEqual([body]);
    expect(list.body).not.toContain('super-secret-value');

    const one = await http.app.inject({ method: 'GET', url: `/v1/subscriptions/${body.id}` });
    expect(one.json()).toEqual(body);

    const deleted = await http.app.inject({ method: 'DELETE', url: `/v1/subscriptions/${body.id}` });
    expect(deleted.statusCode).toBe(204);
    const gone = await http.app.inject({ method: 'GET', url: `/v1/subscriptions/${body.id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('CONCORD_SUBSCRIPTION_NOT_FOUND');
    const again = await http.app.inject({ method: 'DELETE', url: `/v1/subscriptions/${body.id}` });
    expect(again.statusCode).toBe(404);
  });

  it('masks query values and credentials in every view; the stored URL stays whole', async () => {
    const url = 'https://hooks.example.com/concord?token=tok-8c1f&tenant=acme';
    const masked = 'https://hooks.example.com/concord?token=***&tenant=***';
    const created = await post({ url, secret: 'super-secret-value' });
    expect(created.statusCode).toBe(201);
    const { id } = created.json<{ id: string }>();
    expect(created.json().url).toBe(masked);
    const list = await http.app.inject({ method: 'GET', url: '/v1/subscriptions' });
    const listed = list.json<{ subscriptions: { id: string; url: string }[] }>().subscriptions;
    expect(listed.find((one) => one.id === id)?.url).toBe(masked);
    const one = await http.app.inject({ method: 'GET', url: `/v1/subscriptions/${id}` });
    expect(one.json().url).toBe(masked);
    const { rows } = await database.db.query<{ url: string }>(
      `SELECT url FROM ${database.schema}.notifier_subscriptions WHERE id = $1`,
      [id],
    );
    expect(rows[0]?.url).toBe(url);

    // A row written around the API (credentials are refused at creation) and a dead letter of it.
    const legacy = `legacy-${id}`;
    const legacyUrl = 'https://me:pw@hooks.example.com/old?key=k-91&flag';
    await database.db.query(
      `INSERT INTO ${database.schema}.notifier_subscriptions (id, url, secret) VALUES ($1, $2, 'legacy-secret')`,
      [legacy, legacyUrl],
    );
    await database.db.query(
      `INSERT INTO ${database.schema}.notifier_dead_letters
         (delivery_id, notification_id, subscription_id, url, attempts, error_code, last_error, last_status)
       VALUES ($1, 1, $2, $3, 8, 'CONCORD_WEBHOOK_DELIVERY_FAILED', 'webhook answered 500', 500)`,
      [`d1-${legacy}`, legacy, legacyUrl],
    );
    const legacyMasked = 'https://***:***@hooks.example.com/old?key=***&***';
    const views = await Promise.all(
      ['/v1/subscriptions', `/v1/subscriptions/${legacy}`, `/v1/subscriptions/${legacy}/dead-letters`].map(
        (path) => http.app.inject({ method: 'GET', url: path }),
      ),
    );
    for (const view of views) {
      expect(view.statusCode).toBe(200);
      for (const secret of ['tok-8c1f', 'acme', 'k-91', ':pw@', 'legacy-secret']) {
        expect(view.body).not.toContain(secret);
      }
    }
    expect(views[1]?.json().url).toBe(legacyMasked);
    expect(views[2]?.json().deadLetters).toEqual([
      expect.objectContaining({ deliveryId: `d1-${legacy}`, url: legacyMasked, attempts: 8 }),
    ]);
    for (const remove of [id, legacy]) {
      await http.app.inject({ method: 'DELETE', url: `/v1/subscriptions/${remove}` });
    }
  });

  it('takes a whsec_ secret only when base64 of at least 8 bytes follows', async () => {
    const url = 'https://hooks.example.com/whsec';
    const good = await post({ url, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
    expect(good.statusCode).toBe(201);
    await http.app.inject({ method: 'DELETE', url: `/v1/subscriptions/${good.json().id}` });
    for (const secret of ['whsec_not-base64!', 'whsec_AAAA', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwX']) {
      const response = await post({ url, secret });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({
        code: 'CONCORD_SUBSCRIPTION_INVALID',
        details: [{ path: 'secret' }],
      });
    }
  });

  it.each([
    ['http://127.0.0.1:8080/hook', 'CONCORD_WEBHOOK_URL_PRIVATE'],
    ['http://169.254.169.254/latest', 'CONCORD_WEBHOOK_URL_PRIVATE'],
    ['https://intranet.example.com/hook', 'CONCORD_WEBHOOK_URL_PRIVATE'],
    ['https://unknown.example.com/hook', 'CONCORD_WEBHOOK_URL_UNRESOLVABLE'],
    ['ftp://hooks.example.com/hook', 'CONCORD_WEBHOOK_URL_SCHEME'],
    ['https://me:pw@hooks.example.com/hook', 'CONCORD_WEBHOOK_URL_CREDENTIALS'],
    ['hooks.example.com/hook', 'CONCORD_WEBHOOK_URL_INVALID'],
  ])('refuses %s with %s', async (url, code) => {
    const response = await post({ url, secret: 'super-secret-value' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe(code);
  });

  it('refuses malformed bodies and filters', async () => {
    const noSecret = await post({ url: 'https://hooks.example.com/x' });
    expect(noSecret.statusCode).toBe(400);
    expect(noSecret.json().error.code).toBe('CONCORD_SUBSCRIPTION_INVALID');
    const shortSecret = await post({ url: 'https://hooks.example.com/x', secret: 'short' });
    expect(shortSecret.json().error.code).toBe('CONCORD_SUBSCRIPTION_INVALID');
    const badFilter = await post({
      url: 'https://hooks.example.com/x',
      secret: 'super-secret-value',
      filter: { outcomes: ['exploded'] },
    });
    expect(badFilter.statusCode).toBe(400);
    expect(badFilter.json().error.code).toBe('CONCORD_FILTER_INVALID');
    expect(badFilter.json().error.details[0].path).toBe('filter.outcomes.0');
  });
});
