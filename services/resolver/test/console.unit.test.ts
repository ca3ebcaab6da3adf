import { silentLogger } from '@concord/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, createMetrics } from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';
import { loadResolverConfig } from '../src/config.js';
import { consoleCsp, registerConsole } from '../src/console.js';
import type { ConsoleOptions } from '../src/console.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const serve = (options: ConsoleOptions) => {
  const server = createHttpServer({
    logger: silentLogger,
    metrics: createMetrics(`console_${servers.length}_${Date.now()}`),
    checks: [],
    bodyLimit: 1024,
  });
  servers.push(server);
  registerConsole(server.app, options);
  return server.app;
};

describe('the review console’s routes', () => {
  it('serves the page, its module and its style from console/', async () => {
    const app = serve({});
    const page = await app.inject({ url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<script type="module" src="./console.js"></script>');
    // Nothing in the page is fetched from elsewhere (it must work offline).
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const script = await app.inject({ url: '/console/console.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // What the API returns is never parsed as HTML.
    expect(script.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect((await app.inject({ url: '/console/console.css' })).statusCode).toBe(200);
  });

  it('tells the page where the stream is, and lets it connect there', async () => {
    const none = serve({});
    expect((await none.inject({ url: '/console/config.json' })).json()).toEqual({ streamUrl: null });
    const local = serve({ streamUrl: '../v1/stream' });
    expect((await local.inject({ url: '/console/config.json' })).json()).toEqual({
      streamUrl: '../v1/stream',
    });
    expect((await local.inject({ url: '/console/' })).headers['content-security-policy']).toMatch(
      /connect-src 'self'$/,
    );
    const remote = serve({ streamUrl: 'https://notifier.example:8443/v1/stream' });
    expect((await remote.inject({ url: '/console/' })).headers['content-security-policy']).toMatch(
      /connect-src 'self' https:\/\/notifier\.example:8443$/,
    );
  });

  it('builds the CSP from the stream URL’s origin only', () => {
    expect(consoleCsp(undefined)).toContain("default-src 'self'");
    expect(consoleCsp(undefined)).toContain("frame-ancestors 'none'");
    expect(consoleCsp('http://n.example/v1/stream?x=1')).toMatch(/connect-src 'self' http:\/\/n\.example$/);
  });

  it('reads RESOLVER_CONSOLE_STREAM_URL as an http(s) URL', () => {
    const base = { DATABASE_URL: 'postgres://localhost/concord', BROKER: 'kafka', KAFKA_BROKERS: 'k:9092' };
    expect(loadResolverConfig(base).RESOLVER_CONSOLE_STREAM_URL).toBeUndefined();
    const url = 'https://notifier.example/v1/stream';
    expect(
      loadResolverConfig({ ...base, RESOLVER_CONSOLE_STREAM_URL: url }).RESOLVER_CONSOLE_STREAM_URL,
    ).toBe(url);
    expect(() => loadResolverConfig({ ...base, RESOLVER_CONSOLE_STREAM_URL: 'javascript:alert(1)' })).toThrow(
      /RESOLVER_CONSOLE_STREAM_URL/,
    );
  });
});
