import type { RouteInfo, Scope } from '@concord/service-kit';
import { signTestToken } from '@concord/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllInOneConfig } from '../src/config.js';
import { startTestAllInOne } from './support/running.js';
import type { TestAllInOne } from './support/running.js';

const SECRET = 'all-in-one-test-secret-32-characters+';

const POLICY = `version: '1.0'
name: auth-test
settings: { default_fallback: last_write_wins }
rules:
  - name: review-amount
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { timeout: 1h } }
`;

const sign = (claims: { scope: string; sub?: string }, expiresAt: number | string = '5m') =>
  signTestToken({ secret: SECRET, subject: claims.sub ?? 'alice', scope: claims.scope, expiresAt });

/** A scope that does not grant `scope` (never admin, which grants every one). */
const otherScope = (scope: Scope): Scope => (scope === 'events:read' ? 'events:write' : 'events:read');

/**
 * The all-in-one process as `pnpm start` runs it (embedded PGlite, in-memory bus), with JWT
 * authentication: every registered route declares a scope, and every route refuses a missing, an expired
 * and a wrong-scope token.
 */
describe('the all-in-one process with authentication', () => {
  let concord: TestAllInOne | undefined;
  let routes: readonly RouteInfo[];
  let base = '';

  beforeAll(async () => {
    concord = await startTestAllInOne({
      label: 'auth',
      policy: POLICY,
      env: { CONCORD_AUTH_JWT_SECRET: SECRET },
    });
    // With credentials configured the default is every interface; loopback here all the same.
    expect(concord.config.HOST).toBe('0.0.0.0');
    routes = concord.running.routes;
    base = concord.url;
  });

  afterAll(async () => {
    await concord?.stop();
  });

  it('declares a scope on every route but the health checks, the API documentation and the console’s files (deny by default)', () => {
    const undeclared = routes.filter((route) => route.scope === undefined);
    expect(undeclared).toEqual([]);
    const open = routes
      .filter((route) => route.scope === 'public')
      .map((route) => `${route.method} ${route.url}`);
    const pages = open.filter((route) => route.startsWith('GET /console'));
    expect(pages.sort()).toEqual([
      'GET /console',
      'GET /console/',
      'GET /console/*',
      'GET /console/config.json',
    ]);
    expect(open.filter((route) => !pages.includes(route)).sort()).toEqual([
      'GET /docs',
      'GET /docs/:asset',
      'GET /healthz',
      'GET /openapi.json',
      'GET /readyz',
    ]);
    // The routes of DESIGN §5 are all there, so the table below covers them.
    const urls = new Set(routes.map((route) => `${route.method} ${route.url}`));
    for (const expected of [
      'POST /v1/events',
      'GET /v1/stream',
      'GET /metrics',
      'POST /v1/conflicts/:id/decision',
      'POST /v1/projections/rebuild',
      'POST /v1/policy/dry-run',
      'DELETE /v1/subscriptions/:id',
    ]) {
      expect(urls, expected).toContain(expected);
    }
  });

  it('serves the review console’s files without a token; what it shows needs one', async () => {
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="./console.js"></script>');
    expect((await fetch(`${base}/console/console.js`)).headers.get('content-type')).toMatch(
      /^text\/javascript/,
    );
    expect(await (await fetch(`${base}/console/config.json`)).json()).toEqual({ streamUrl: '../v1/stream' });
    const list = await fetch(`${base}/v1/conflicts?status=pending_review`);
    expect(list.status).toBe(401);
  });

  it('refuses a missing (401), an expired (401) and a wrong-scope (403) token on every route', async () => {
    const expired = await sign({ scope: 'admin' }, Math.floor(Date.now() / 1000) - 60);
    const checked: string[] = [];
    for (const route of routes) {
      if (route.scope === 'public' || route.scope === undefined) continue;
      const url = `${base}${route.url.replace(/:\w+/g, 'x')}`;
      const wrong = await sign({ scope: otherScope(route.scope) });
      const cases: [string, Record<string, string>, number, string][] = [
        ['missing', {}, 401, 'CONCORD_UNAUTHENTICATED'],
        ['expired', { authorization: `Bearer ${expired}` }, 401, 'CONCORD_UNAUTHENTICATED'],
        ['wrong scope', { authorization: `Bearer ${wrong}` }, 403, 'CONCORD_FORBIDDEN'],
      ];
      for (const [name, headers, status, code] of cases) {
        const answer = await fetch(url, {
          method: route.method,
          headers: { ...headers, ...(route.method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          ...(route.method === 'POST' ? { body: '{}' } : {}),
        });
        const label = `${route.method} ${route.url} (${route.scope}): ${name}`;
        expect(answer.status, label).toBe(status);
        expect(((await answer.json()) as { error: { code: string } }).error.code, label).toBe(code);
        if (status === 401) expect(answer.headers.get('www-authenticate'), label).toMatch(/^Bearer /);
      }
      checked.push(`${route.method} ${route.url}`);
    }
    expect(checked.length).toBeGreaterThanOrEqual(20);
  });

  it('serves a token with the route’s scope, and /healthz without one', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const reader = await sign({ scope: 'events:read' });
    const feed = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${reader}` } });
    expect(feed.status).toBe(200);
    const admin = await sign({ scope: 'admin' });
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(metrics.status).toBe(200);
  });

  it('records the authenticated subject as the decision’s userId, and refuses a userId naming someone else', async () => {
    const writer = await sign({ scope: 'events:write' });
    const submit = (id: string, amount: number) =>
      fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          events: [
            {
              id,
              type: 'Set',
              aggregateType: 'invoice',
              aggregateId: 'inv-1',
              baseVersion: 0,
              data: { amount },
            },
          ],
        }),
      });
    expect((await submit('e-1', 10)).status).toBe(200);
    expect((await submit('e-2', 20)).status).toBe(200);
    const reviewer = await sign({ scope: 'conflicts:decide events:read', sub: 'reviewer-7' });
    const headers = { authorization: `Bearer ${reviewer}`, 'content-type': 'application/json' };
    let conflictId: string | undefined;
    const deadline = Date.now() + 20_000;
    while (conflictId === undefined && Date.now() < deadline) {
      const page = (await (
        await fetch(`${base}/v1/conflicts?status=pending_review`, { headers })
      ).json()) as { conflicts: { id: string }[] };
      conflictId = page.conflicts[0]?.id;
      if (conflictId === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(conflictId).toBeDefined();
    const decide = (body: object) =>
      fetch(`${base}/v1/conflicts/${conflictId ?? ''}/decision`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
    const impostor = await decide({ choose: 'remote', userId: 'somebody-else' });
    expect(impostor.status).toBe(403);
    expect(((await impostor.json()) as { error: { code: string } }).error.code).toBe('CONCORD_FORBIDDEN');
    const decided = await decide({ choose: 'remote' });
    expect(decided.status).toBe(200);
    const view = (await decided.json()) as { decisions: { decidedBy: string; userId: string | null }[] };
    expect(view.decisions.at(-1)).toMatchObject({ userId: 'reviewer-7' });
  });
});

describe('the all-in-one listen address', () => {
  it('listens on 127.0.0.1 by default without credentials, on every interface with them, and as HOST says', () => {
    expect(loadAllInOneConfig({}).HOST).toBe('127.0.0.1');
    expect(loadAllInOneConfig({ CONCORD_AUTH_JWT_SECRET: SECRET }).HOST).toBe('0.0.0.0');
    expect(loadAllInOneConfig({ CONCORD_AUTH_API_KEYS_FILE: '/etc/concord/keys.yaml' }).HOST).toBe('0.0.0.0');
    expect(loadAllInOneConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });
});
