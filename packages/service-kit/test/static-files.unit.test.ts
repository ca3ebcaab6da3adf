import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@concord/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAuthenticator,
  createHttpServer,
  createMetrics,
  DEFAULT_PAGE_CSP,
  registerStaticFiles,
} from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';

describe('static pages (registerStaticFiles)', () => {
  let root: string;
  let server: HttpServer;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'concord-static-'));
    const page = join(root, 'page');
    mkdirSync(join(page, 'vendor'), { recursive: true });
    writeFileSync(join(page, 'index.html'), '<!doctype html><title>page</title>');
    writeFileSync(join(page, 'app.js'), 'export const x = 1;');
    writeFileSync(join(page, 'vendor', 'lib.js'), 'export const y = 2;');
    writeFileSync(join(page, '.secret.js'), 'hidden');
    writeFileSync(join(page, 'notes.txt'), 'unknown type');
    writeFileSync(join(root, 'outside.js'), 'outside the directory');
    server = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics(`static_${Date.now()}`),
      checks: [],
      bodyLimit: 1024,
      // Authentication on: the page itself needs no token, its data does.
      access: {
        authenticator: createAuthenticator({ jwt: { secret: 'a-test-secret-of-at-least-32-characters!' } }),
        corsOrigins: [],
        rateLimitPerMin: 0,
      },
    });
    registerStaticFiles(server.app, { prefix: '/page', dir: page });
    registerStaticFiles(server.app, { prefix: '/other', dir: page, csp: "default-src 'none'" });
  });

  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at prefix/ without a token, with a strict CSP and nosniff', async () => {
    const answer = await server.app.inject({ url: '/page/' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('<title>page</title>');
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-security-policy']).toBe(DEFAULT_PAGE_CSP);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['referrer-policy']).toBe('no-referrer');
    const other = await server.app.inject({ url: '/other/' });
    expect(other.headers['content-security-policy']).toBe("default-src 'none'");
  });

  it('redirects the bare prefix to prefix/, so relative links resolve inside it', async () => {
    const answer = await server.app.inject({ url: '/page' });
    expect(answer.statusCode).toBe(308);
    expect(answer.headers.location).toBe('/page/');
  });

  it('serves scripts, in subfolders too, as JavaScript', async () => {
    const app = await server.app.inject({ url: '/page/app.js' });
    expect(app.statusCode).toBe(200);
    expect(app.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const lib = await server.app.inject({ url: '/page/vendor/lib.js' });
    expect(lib.body).toBe('export const y = 2;');
  });

  it('answers 404 for missing, hidden, unknown-type and too deep paths', async () => {
    for (const url of [
      '/page/missing.js',
      '/page/.secret.js',
      '/page/notes.txt',
      '/page/vendor',
      '/page/vendor/%2e%2e%2f..%2foutside.js',
      '/page/a/b/c/d/e.js',
    ]) {
      const answer = await server.app.inject({ url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.json(), url).toMatchObject({ error: { code: 'CONCORD_NOT_FOUND' } });
      expect(answer.body, url).not.toContain('outside the directory');
      expect(answer.body, url).not.toContain('hidden');
    }
  });

  it('serves nothing outside its directory', async () => {
    // `..` (plain or encoded) is resolved before routing, so no page route sees it: 401 without a token.
    for (const url of ['/page/../outside.js', '/page/%2e%2e/outside.js', '/page/%2E%2E/outside.js']) {
      const answer = await server.app.inject({ url });
      expect(answer.statusCode, url).toBe(401);
      expect(answer.body, url).not.toContain('outside the directory');
    }
  });

  it('keeps every other route behind authentication', async () => {
    expect((await server.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const pages = server
      .routes()
      .filter((route) => route.url.startsWith('/page') || route.url.startsWith('/other'));
    expect(pages.map((route) => `${route.scope} ${route.url}`).sort()).toEqual([
      'public /other',
      'public /other/',
      'public /other/*',
      'public /page',
      'public /page/',
      'public /page/*',
    ]);
  });
});
