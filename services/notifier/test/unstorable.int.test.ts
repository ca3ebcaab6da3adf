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

/** Text Postgres cannot store (U+0000, an unpaired surrogate) in a path or body: 4xx, never a 500. */
describe('subscription routes with unstorable text', () => {
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
      resolveHost: () => Promise.resolve(['93.184.216.34']),
    });
    http = createHttpServer({ logger: silentLogger, metrics, checks: [], bodyLimit: 1024 * 1024 });
    await module.routes?.(http.app);
  });

  afterAll(async () => {
    await http?.close();
    await database?.close();
  });

  const request = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: string) => {
    const response = await http.app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/json' } }),
    });
    const body = response.body === '' ? {} : response.json<{ error?: { code: string } }>();
    return { status: response.statusCode, code: body.error?.code };
  };

  it('answers a subscription id holding U+0000 not found, on every route that takes one', async () => {
    const notFound = { status: 404, code: 'CONCORD_SUBSCRIPTION_NOT_FOUND' };
    expect(await request('GET', '/v1/subscriptions/%00')).toEqual(notFound);
    expect(await request('GET', '/v1/subscriptions/a%00b/dead-letters')).toEqual(notFound);
    expect(await request('DELETE', '/v1/subscriptions/%00')).toEqual(notFound);
  });

  it('refuses a filter, secret or URL holding U+0000 or a lone surrogate with 400, and stores nothing', async () => {
    const url = '"https://hooks.example.com/concord"';
    const secret = '"super-secret-value"';
    for (const body of [
      `{"url":${url},"secret":${secret},"filter":{"eventTypes":["T\\u0000"]}}`,
      `{"url":${url},"secret":${secret},"filter":{"aggregateIds":["task-\\ud800"]}}`,
      `{"url":${url},"secret":${secret},"filter":{"aggregateTypes":["\\udc00x"]}}`,
      `{"url":${url},"secret":"super-secret\\u0000"}`,
      `{"url":${url},"secret":"super-secret\\udbff"}`,
      `{"url":"https://hooks.example.com/\\ud800","secret":${secret}}`,
      `{"url":${url},"secret":${secret},"filter":{"n\\u0000":1}}`,
    ]) {
      expect(await request('POST', '/v1/subscriptions', body)).toEqual({
        status: 400,
        code: 'CONCORD_SUBSCRIPTION_INVALID',
      });
    }
    const list = await http.app.inject({ method: 'GET', url: '/v1/subscriptions' });
    expect(list.json()).toEqual({ subscriptions: [] });
  });
});
