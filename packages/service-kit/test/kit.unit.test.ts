import { ConcordError, defineErrors, silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createHttpServer,
  createMetrics,
  envBoolean,
  envPort,
  loadConfig,
  onShutdown,
  serviceEnvShape,
  withBrokerUrls,
} from '@concord/service-kit';

/** Test routes declare a scope, as every route must (authentication is off here). */
const OPEN = { config: { scope: 'events:read' } } as const;

describe('loadConfig', () => {
  const schema = z.object({
    PORT: envPort(8080),
    VERBOSE: envBoolean(false),
    BROKER: z.enum(['memory', 'kafka']),
  });

  it('returns a frozen, typed object with defaults', () => {
    const config = loadConfig(schema, { BROKER: 'kafka' });
    expect(config).toEqual({ PORT: 8080, VERBOSE: false, BROKER: 'kafka' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once and parses booleans strictly', () => {
    let caught: unknown;
    try {
      loadConfig(schema, { PORT: '70000', VERBOSE: 'yes', BROKER: 'nats' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConcordError);
    const error = caught as ConcordError;
    expect(error.code).toBe('CONCORD_CONFIG_INVALID');
    expect((error.details as string[]).map((line) => line.split(':')[0])).toEqual([
      'PORT',
      'VERBOSE',
      'BROKER',
    ]);
  });
});

describe('createHttpServer', () => {
  const build = (ready: boolean) =>
    createHttpServer({
      logger: silentLogger,
      metrics: createMetrics('test'),
      checks: [{ name: 'db', isReady: () => ready }],
      bodyLimit: 64,
    });

  it('serves health, readiness reflecting checks and shutdown, and metrics', async () => {
    const server = build(true);
    expect((await server.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/readyz' })).json()).toEqual({
      status: 'ready',
      checks: { db: true },
    });
    server.markNotReady();
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    const metrics = await server.app.inject({ url: '/metrics' });
    expect(metrics.body).toContain('concord_http_request_duration_seconds_bucket');
    await server.close();
    expect((await build(false).app.inject({ url: '/readyz' })).statusCode).toBe(503);
  });

  it('maps errors to the error contract: the status their table gives their code', async () => {
    const table = defineErrors({
      CONFLICT_NOT_FOUND: { code: 'CONCORD_CONFLICT_NOT_FOUND', retryable: false, status: 404, message: 'x' },
      TEST_BUSY: { code: 'CONCORD_TEST_BUSY', retryable: true, message: 'x' },
      TEST_ODD: { code: 'CONCORD_TEST_ODD', retryable: false, message: 'x' },
    });
    const server = build(true);
    server.app.get('/boom', OPEN, () => {
      throw new ConcordError(table.CONFLICT_NOT_FOUND, 'no such conflict');
    });
    server.app.get('/busy', OPEN, () => {
      throw new ConcordError(table.TEST_BUSY, 'busy');
    });
    server.app.get('/odd', OPEN, () => {
      throw new ConcordError(table.TEST_ODD, 'odd', { details: { n: 1 } });
    });
    server.app.get('/bug', OPEN, () => {
      throw new Error('a bug');
    });
    server.app.post('/echo', OPEN, (request) => request.body);
    expect((await server.app.inject({ url: '/busy' })).statusCode).toBe(503);
    const odd = await server.app.inject({ url: '/odd' });
    expect([odd.statusCode, odd.json()]).toEqual([
      400,
      { error: { code: 'CONCORD_TEST_ODD', message: 'odd', details: { n: 1 } } },
    ]);
    const bug = await server.app.inject({ url: '/bug' });
    expect([bug.statusCode, bug.json()]).toEqual([
      500,
      { error: { code: 'CONCORD_INTERNAL', message: 'internal error' } },
    ]);
    const notFound = await server.app.inject({ url: '/boom' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toEqual({
      error: { code: 'CONCORD_CONFLICT_NOT_FOUND', message: 'no such conflict' },
    });
    const large = await server.app.inject({
      method: 'POST',
      url: '/echo',
      payload: { text: 'x'.repeat(100) },
    });
    expect(large.statusCode).toBe(413);
    expect(large.json().error.code).toBe('CONCORD_BODY_TOO_LARGE');
    const badJson = await server.app.inject({
      method: 'POST',
      url: '/echo',
      payload: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('CONCORD_BATCH_INVALID');
  });

  it('answers the router’s own errors (a path that does not decode, a too long parameter) in the error contract', async () => {
    const server = build(true);
    server.app.get('/things/:id', OPEN, (request) => request.params);
    // %ED%A0%80 is a UTF-16 surrogate encoded as UTF-8: not a valid URL component.
    const badUrl = await server.app.inject({ url: '/things/%ED%A0%80' });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toEqual({
      error: { code: 'CONCORD_BAD_URL', message: 'the request path is not valid percent-encoded UTF-8' },
    });
    // The longest id (200 characters), each character percent-encoded, is within the limit.
    const longestId = '\u{1F600}'.repeat(100);
    const encoded = await server.app.inject({ url: `/things/${encodeURIComponent(longestId)}` });
    expect(encoded.json()).toEqual({ id: longestId });
    const longParam = await server.app.inject({ url: `/things/${'x'.repeat(2401)}` });
    expect(longParam.statusCode).toBe(414);
    expect(longParam.json()).toEqual({
      error: { code: 'CONCORD_URL_TOO_LONG', message: 'a path parameter is too long' },
    });
    expect((await server.app.inject({ url: '/things/ok' })).json()).toEqual({ id: 'ok' });
    await server.close();
  });

  it('starts without a deprecation warning (a fresh pnpm start prints none from Concord)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => warnings.push(warning.code ?? warning.message);
    process.on('warning', onWarning);
    try {
      const server = build(true);
      server.app.get('/things/:id', OPEN, (request) => request.params);
      await server.app.ready();
      await server.close();
      // Node emits process warnings on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('onShutdown', () => {
  it('marks not ready, closes components in order and exits 0', async () => {
    const steps: string[] = [];
    let code: number | undefined;
    const component = (name: string) => ({ name, close: () => Promise.resolve(void steps.push(name)) });
    const { shutdown } = onShutdown({
      logger: silentLogger,
      graceMs: 1_000,
      markNotReady: () => steps.push('not-ready'),
      components: [component('consumers'), component('http'), component('pool')],
      exit: (value) => {
        code = value;
      },
    });
    await Promise.all([shutdown('SIGTERM'), shutdown('SIGTERM')]);
    expect(steps).toEqual(['not-ready', 'consumers', 'http', 'pool']);
    expect(code).toBe(0);
  });

  it('exits 1 when draining outlasts the grace period', async () => {
    let code: number | undefined;
    const { shutdown } = onShutdown({
      logger: silentLogger,
      graceMs: 20,
      markNotReady: () => undefined,
      components: [{ name: 'stuck', close: () => new Promise<void>(() => undefined) }],
      exit: (value) => {
        code = value;
      },
    });
    await shutdown('SIGTERM');
    expect(code).toBe(1);
  });
});

describe('serviceEnvShape', () => {
  const schema = withBrokerUrls(z.object(serviceEnvShape));

  it('applies DESIGN §9 defaults', () => {
    const config = loadConfig(schema, { DATABASE_URL: 'postgres://localhost/db', BROKER: 'memory' });
    expect(config).toMatchObject({
      PORT: 8080,
      LOG_LEVEL: 'info',
      DATABASE_SCHEMA: 'concord',
      BROKER: 'memory',
    });
  });

  it('requires the chosen broker address and reports it with every other problem', () => {
    expect(() => loadConfig(schema, { BROKER: 'kafka', PORT: 'x' })).toThrow(
      /PORT: must be a non-negative integer[\s\S]*DATABASE_URL: is required/,
    );
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/d', BROKER: 'rabbitmq' })).toThrow(
      /AMQP_URL: is required when BROKER=rabbitmq/,
    );
  });
});
