import { silentLogger } from '@concord/core';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createMetrics, runService } from '@concord/service-kit';

describe('runService', () => {
  it('serves module routes, starts modules, and shuts down modules → http → clients', async () => {
    const steps: string[] = [];
    let exitCode: number | undefined;
    let app: FastifyInstance | undefined;
    let readyWhileStarting: unknown;
    const running = await runService({
      service: 'test',
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      metrics: createMetrics('test'),
      checks: [{ name: 'db', isReady: () => true }],
      clients: [{ name: 'pool', close: () => Promise.resolve(void steps.push('pool')) }],
      modules: [
        {
          name: 'ingest',
          routes: (routes) => {
            app = routes;
            routes.get('/v1/ping', { config: { scope: 'events:read' } }, () => ({ pong: true }));
          },
          checks: [{ name: 'relay', isReady: () => true }],
          start: async () => {
            // A consumer subscribing now: the service must not say it is ready yet.
            readyWhileStarting = (await app?.inject({ url: '/readyz' }))?.json();
            steps.push('start');
          },
          close: () => Promise.resolve(void steps.push('close')),
        },
      ],
      handleSignals: false,
      exit: (code) => {
        exitCode = code;
      },
    });
    const ping = await fetch(`${running.url}/v1/ping`);
    expect(await ping.json()).toEqual({ pong: true });
    const ready = await fetch(`${running.url}/readyz`);
    expect(readyWhileStarting).toEqual({
      status: 'not_ready',
      checks: { db: true, relay: true, modules: false },
    });
    expect(await ready.json()).toEqual({ status: 'ready', checks: { db: true, relay: true, modules: true } });
    await running.shutdown();
    expect(steps).toEqual(['start', 'close', 'pool']);
    expect(exitCode).toBe(0);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});
