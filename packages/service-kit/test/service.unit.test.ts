import { silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { createMetrics, runService } from '@concord/service-kit';

describe('runService', () => {
  it('serves module routes, starts modules, and shuts down modules → http → clients', async () => {
    const steps: string[] = [];
    let exitCode: number | undefined;
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
          routes: (app) => {
            app.get('/v1/ping', () => ({ pong: true }));
          },
          checks: [{ name: 'relay', isReady: () => true }],
          start: () => Promise.resolve(void steps.push('start')),
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
    expect(await ready.json()).toEqual({ status: 'ready', checks: { db: true, relay: true } });
    await running.shutdown();
    expect(steps).toEqual(['start', 'close', 'pool']);
    expect(exitCode).toBe(0);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});
