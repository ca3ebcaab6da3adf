import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  authEnvShape,
  createAuthenticator,
  createHttpServer,
  createMetrics,
  loadConfig,
  parseApiKeys,
  runService,
  sha256Hex,
} from '@concord/service-kit';
import type { HttpAccess, HttpServer } from '@concord/service-kit';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const API_KEY = 'ck_live_0123456789abcdef';

const sign = async (
  claims: Record<string, unknown>,
  options: { secret?: string; expiresAt?: number | string; issuer?: string; audience?: string } = {},
) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (claims['sub'] === undefined) jwt = jwt.setSubject('alice');
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  jwt = jwt.setExpirationTime(options.expiresAt ?? '5m');
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
};

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A server with one route per kind of declaration, as services register them. */
const build = (access?: HttpAccess) => {
  const server = createHttpServer({
    logger: silentLogger,
    metrics: createMetrics(`auth_${servers.length}_${Date.now()}`),
    checks: [],
    bodyLimit: 1024,
    ...(access === undefined ? {} : { access }),
  });
  servers.push(server);
  server.app.get('/v1/read', { config: { scope: 'events:read' } }, (request) => ({
    identity:
      request.identity === undefined
        ? null
        : { ...request.identity, scopes: [...request.identity.scopes].sort() },
  }));
  server.app.post('/v1/write', { config: { scope: 'events:write' } }, () => ({ ok: true }));
  server.app.get('/v1/undeclared', () => ({ open: true }));
  return server;
};

const jwtAccess = (extra: Partial<HttpAccess> = {}): HttpAccess => ({
  authenticator: createAuthenticator({ jwt: { secret: SECRET } }),
  corsOrigins: [],
  rateLimitPerMin: 0,
  ...extra,
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('authentication (JWT, HS256)', () => {
  it('lets a token with the route’s scope through and reads subject, scopes and tenant into the identity', async () => {
    const server = build(jwtAccess());
    const token = await sign({ scope: 'events:read events:write unknown:scope', tenant: 'acme' });
    const answer = await server.app.inject({ url: '/v1/read', headers: bearer(token) });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({
      identity: {
        subject: 'alice',
        scopes: ['events:read', 'events:write'],
        tenant: 'acme',
        via: 'jwt',
        limitKey: 'sub:alice',
      },
    });
  });

  it('answers 401 CONCORD_UNAUTHENTICATED with WWW-Authenticate: Bearer to a missing, malformed, expired or forged token', async () => {
    const server = build(jwtAccess());
    const cases: [string, Record<string, string>, RegExp][] = [
      ['missing', {}, /required/],
      ['not bearer', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, /Bearer/],
      ['malformed', bearer('not-a-jwt'), /not a JWT/],
      ['garbage JWT', bearer('abc.def.ghi'), /malformed|invalid/],
      [
        'expired',
        bearer(await sign({ scope: 'admin' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 })),
        /expired/,
      ],
      ['bad signature', bearer(await sign({ scope: 'admin' }, { secret: `${SECRET}-other` })), /signature/],
      ['no subject', bearer(await sign({ scope: 'admin', sub: '' })), /sub/],
    ];
    for (const [name, headers, message] of cases) {
      const answer = await server.app.inject({ url: '/v1/read', headers });
      expect(answer.statusCode, name).toBe(401);
      expect(answer.json().error.code, name).toBe('CONCORD_UNAUTHENTICATED');
      expect(answer.json().error.message, name).toMatch(message);
      expect(answer.headers['www-authenticate'], name).toMatch(/^Bearer realm="concord"/);
    }
  });

  it('checks issuer and audience when they are configured', async () => {
    const server = build(
      jwtAccess({
        authenticator: createAuthenticator({
          jwt: { secret: SECRET, issuer: 'https://idp', audience: 'concord' },
        }),
      }),
    );
    const good = await sign({ scope: 'events:read' }, { issuer: 'https://idp', audience: 'concord' });
    const wrongIssuer = await sign({ scope: 'events:read' }, { issuer: 'https://evil', audience: 'concord' });
    const noAudience = await sign({ scope: 'events:read' }, { issuer: 'https://idp' });
    expect((await server.app.inject({ url: '/v1/read', headers: bearer(good) })).statusCode).toBe(200);
    for (const token of [wrongIssuer, noAudience]) {
      const answer = await server.app.inject({ url: '/v1/read', headers: bearer(token) });
      expect(answer.statusCode).toBe(401);
      expect(answer.json().error.code).toBe('CONCORD_UNAUTHENTICATED');
    }
  });

  it('answers 403 CONCORD_FORBIDDEN without the route’s scope; admin implies every scope', async () => {
    const server = build(jwtAccess());
    const reader = await sign({ scope: 'events:read' });
    const forbidden = await server.app.inject({ method: 'POST', url: '/v1/write', headers: bearer(reader) });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error).toMatchObject({
      code: 'CONCORD_FORBIDDEN',
      details: { scope: 'events:write' },
    });
    expect(forbidden.headers['www-authenticate']).toContain('error="insufficient_scope"');
    const admin = await sign({ scope: 'admin' });
    const allowed = await server.app.inject({ method: 'POST', url: '/v1/write', headers: bearer(admin) });
    expect(allowed.statusCode).toBe(200);
  });

  it('refuses a route that declares no scope, to every caller and with authentication off (deny by default)', async () => {
    const withAuth = build(jwtAccess());
    const admin = await sign({ scope: 'admin' });
    const refused = await withAuth.app.inject({ url: '/v1/undeclared', headers: bearer(admin) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('CONCORD_FORBIDDEN');
    const open = build();
    expect((await open.app.inject({ url: '/v1/undeclared' })).statusCode).toBe(403);
    expect((await open.app.inject({ url: '/v1/read' })).json()).toEqual({ identity: null });
  });

  it('keeps /healthz, /readyz and the API document open, puts /metrics behind admin, and 404s only to an authenticated caller', async () => {
    const server = build(jwtAccess());
    expect((await server.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const reader = await sign({ scope: 'events:read' });
    expect((await server.app.inject({ url: '/metrics', headers: bearer(reader) })).statusCode).toBe(403);
    const admin = await sign({ scope: 'admin' });
    expect((await server.app.inject({ url: '/metrics', headers: bearer(admin) })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/v1/nothing' })).statusCode).toBe(401);
    expect((await server.app.inject({ url: '/v1/nothing', headers: bearer(reader) })).statusCode).toBe(404);
    expect(
      server
        .routes()
        .filter((route) => route.scope === 'public')
        .map((route) => route.url)
        .sort(),
    ).toEqual(['/docs', '/docs/:asset', '/healthz', '/openapi.json', '/readyz']);
  });
});

describe('API keys', () => {
  it('reads a JSON or YAML list, keys given whole or as their SHA-256, and authenticates by the key', async () => {
    const yaml = `- sha256: ${sha256Hex(API_KEY)}\n  subject: ci\n  scopes: [events:write]\n  tenant: acme\n`;
    const json = JSON.stringify([{ key: API_KEY, subject: 'ci', scopes: ['events:write'], tenant: 'acme' }]);
    for (const text of [yaml, json]) {
      const keys = parseApiKeys(text);
      expect(keys).toEqual([
        { sha256: sha256Hex(API_KEY), subject: 'ci', scopes: ['events:write'], tenant: 'acme' },
      ]);
      const server = build({
        authenticator: createAuthenticator({ apiKeys: keys }),
        corsOrigins: [],
        rateLimitPerMin: 0,
      });
      const write = await server.app.inject({ method: 'POST', url: '/v1/write', headers: bearer(API_KEY) });
      expect(write.statusCode).toBe(200);
      const read = await server.app.inject({ url: '/v1/read', headers: bearer(API_KEY) });
      expect(read.statusCode).toBe(403);
      const unknown = await server.app.inject({ url: '/v1/read', headers: bearer(`${API_KEY}x`) });
      expect(unknown.statusCode).toBe(401);
    }
  });

  it('reports every problem of a bad keys file as CONCORD_CONFIG_INVALID', () => {
    const bad = JSON.stringify([
      { key: 'short', subject: 'a', scopes: ['events:read'] },
      { key: API_KEY, sha256: sha256Hex(API_KEY), subject: 'b', scopes: ['events:read'] },
      { sha256: 'nothex', subject: 'c', scopes: ['everything'] },
    ]);
    expect(() => parseApiKeys(bad)).toThrow(
      expect.objectContaining({
        code: 'CONCORD_CONFIG_INVALID',
        details: expect.arrayContaining([
          expect.stringMatching(/^0\.key:/),
          expect.stringMatching(/^1: needs exactly one/),
          expect.stringMatching(/^2\.sha256:/),
          expect.stringMatching(/^2\.scopes\.0:/),
        ]),
      }),
    );
    const twice = JSON.stringify([
      { key: API_KEY, subject: 'a', scopes: ['admin'] },
      { sha256: sha256Hex(API_KEY), subject: 'b', scopes: ['admin'] },
    ]);
    expect(() => parseApiKeys(twice)).toThrow(/listed twice/);
    expect(() => parseApiKeys('{ a: [')).toThrow(expect.objectContaining({ code: 'CONCORD_CONFIG_INVALID' }));
  });
});

describe('rate limit', () => {
  it('answers 429 CONCORD_RATE_LIMITED with Retry-After past the limit per subject, until the minute ends', async () => {
    let now = 120_000 + 15_000;
    const server = build(jwtAccess({ rateLimitPerMin: 2, now: () => now }));
    const alice = bearer(await sign({ scope: 'events:read' }));
    const bob = bearer(await sign({ scope: 'events:read', sub: 'bob' }));
    expect((await server.app.inject({ url: '/v1/read', headers: alice })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/v1/read', headers: alice })).statusCode).toBe(200);
    const limited = await server.app.inject({ url: '/v1/read', headers: alice });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('CONCORD_RATE_LIMITED');
    expect(limited.headers['retry-after']).toBe('45');
    // Another subject has its own count; health checks are not counted.
    expect((await server.app.inject({ url: '/v1/read', headers: bob })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    now += 45_000;
    expect((await server.app.inject({ url: '/v1/read', headers: alice })).statusCode).toBe(200);
  });

  it('counts by client address when authentication is off', async () => {
    const server = build({ corsOrigins: [], rateLimitPerMin: 1, now: () => 0 });
    expect((await server.app.inject({ url: '/v1/read', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    expect((await server.app.inject({ url: '/v1/read', remoteAddress: '10.0.0.1' })).statusCode).toBe(429);
    expect((await server.app.inject({ url: '/v1/read', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
  });
});

describe('CORS', () => {
  const preflight = (server: HttpServer, origin: string) =>
    server.app.inject({
      method: 'OPTIONS',
      url: '/v1/write',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('answers a preflight from a configured origin without a token, and marks its answers', async () => {
    const server = build(jwtAccess({ corsOrigins: ['https://app.example'] }));
    const answer = await preflight(server, 'https://app.example');
    expect(answer.statusCode).toBe(204);
    expect(answer.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': expect.stringContaining('POST'),
      'access-control-allow-headers': expect.stringContaining('authorization'),
      vary: 'Origin',
    });
    const token = await sign({ scope: 'events:read' });
    const get = await server.app.inject({
      url: '/v1/read',
      headers: { origin: 'https://app.example', ...bearer(token) },
    });
    expect(get.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(get.headers['access-control-expose-headers']).toContain('retry-after');
    // A refusal carries the header too, so the page can read the 401.
    const refused = await server.app.inject({ url: '/v1/read', headers: { origin: 'https://app.example' } });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('gives another origin, or every origin by default, no CORS headers', async () => {
    const configured = build(jwtAccess({ corsOrigins: ['https://app.example'] }));
    const other = await preflight(configured, 'https://evil.example');
    expect(other.statusCode).toBe(401);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const none = build();
    const answer = await preflight(none, 'https://app.example');
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('configuration', () => {
  const schema = z.object(authEnvShape);

  it('parses CORS origins and the rate limit, and refuses a short secret or a bad origin', () => {
    const config = loadConfig(schema, {
      CONCORD_CORS_ORIGINS: 'https://a.example, http://localhost:5173',
      CONCORD_RATE_LIMIT_PER_MIN: '600',
    });
    expect(config.CONCORD_CORS_ORIGINS).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(config.CONCORD_RATE_LIMIT_PER_MIN).toBe(600);
    expect(loadConfig(schema, {}).CONCORD_CORS_ORIGINS).toEqual([]);
    expect(() =>
      loadConfig(schema, {
        CONCORD_AUTH_JWT_SECRET: 'short',
        CONCORD_CORS_ORIGINS: 'https://a.example/path',
      }),
    ).toThrow(/CONCORD_AUTH_JWT_SECRET: must be at least 32[\s\S]*CONCORD_CORS_ORIGINS/);
  });

  it('says at start whether authentication is on, and warns when it is off beyond loopback', async () => {
    const logged: { level: string; msg: string }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (_obj, msg) => void logged.push({ level: 'info', msg: msg ?? '' }),
      warn: (_obj, msg) => void logged.push({ level: 'warn', msg: msg ?? '' }),
      error: () => undefined,
      child: () => logger,
    };
    const start = async (host: string, access?: HttpAccess) => {
      logged.length = 0;
      const running = await runService({
        service: 'auth-log',
        port: 0,
        host,
        logger,
        metrics: createMetrics(`auth_log_${Date.now()}`),
        checks: [],
        clients: [],
        modules: [],
        handleSignals: false,
        exit: () => undefined,
        ...(access === undefined ? {} : { access }),
      });
      await running.shutdown();
      return logged.filter((entry) => /authentication/.test(entry.msg));
    };
    expect(await start('127.0.0.1')).toEqual([
      { level: 'info', msg: expect.stringMatching(/authentication off: listening on 127\.0\.0\.1 only/) },
    ]);
    expect(await start('0.0.0.0')).toEqual([
      { level: 'warn', msg: expect.stringMatching(/every route is open/) },
    ]);
    expect(await start('0.0.0.0', jwtAccess())).toEqual([
      { level: 'info', msg: expect.stringMatching(/authentication on/) },
    ]);
  });
});
