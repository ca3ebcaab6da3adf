import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@concord/core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  authEnvShape,
  createHttpServer,
  createMetrics,
  httpAccessFromEnv,
  loadConfig,
  sha256Hex,
} from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** A JWKS served from a local HTTP server, as an identity provider serves it. */
describe('authentication against a JWKS URL and an API keys file', () => {
  let jwksServer: Server;
  let jwksUrl: string;
  let dir: string;
  let signingKey: PrivateKey;
  let strangerKey: PrivateKey;
  let jwksRequests = 0;
  const servers: HttpServer[] = [];

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    strangerKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_request, response) => {
      jwksRequests += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const address = jwksServer.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    jwksUrl = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
    dir = await mkdtemp(join(tmpdir(), 'concord-auth-'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await new Promise((resolve) => jwksServer.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const serverFor = async (env: Record<string, string>) => {
    const config = loadConfig(z.object(authEnvShape), env);
    const server = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics(`auth_int_${servers.length}_${Date.now()}`),
      checks: [],
      bodyLimit: 1024,
      access: await httpAccessFromEnv(config),
    });
    servers.push(server);
    server.app.get('/v1/read', { config: { scope: 'events:read' } }, (request) => ({
      subject: request.identity?.subject,
      tenant: request.identity?.tenant ?? null,
    }));
    return server;
  };

  const token = (key: PrivateKey, claims: Record<string, unknown> = { scope: 'events:read' }) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('device-7')
      .setIssuer('https://idp.test')
      .setAudience('concord')
      .setExpirationTime('5m')
      .sign(key);

  it('accepts a token signed with a key of the JWKS, and refuses one signed with another key', async () => {
    const server = await serverFor({
      CONCORD_AUTH_JWKS_URL: jwksUrl,
      CONCORD_AUTH_JWT_ISSUER: 'https://idp.test',
      CONCORD_AUTH_JWT_AUDIENCE: 'concord',
    });
    const ok = await server.app.inject({
      url: '/v1/read',
      headers: { authorization: `Bearer ${await token(signingKey, { scope: 'events:read', tenant: 't1' })}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ subject: 'device-7', tenant: 't1' });
    expect(jwksRequests).toBeGreaterThan(0);

    const forged = await server.app.inject({
      url: '/v1/read',
      headers: { authorization: `Bearer ${await token(strangerKey)}` },
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.code).toBe('CONCORD_UNAUTHENTICATED');
    expect(forged.headers['www-authenticate']).toContain('error="invalid_token"');

    // An HS256 token is not accepted when only a JWKS is configured (no algorithm confusion).
    const hs = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    const confused = await server.app.inject({ url: '/v1/read', headers: { authorization: `Bearer ${hs}` } });
    expect(confused.statusCode).toBe(401);
  });

  it('answers 503 CONCORD_AUTH_UNAVAILABLE (retryable) when the JWKS cannot be fetched', async () => {
    const server = await serverFor({ CONCORD_AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' });
    const answer = await server.app.inject({
      url: '/v1/read',
      headers: { authorization: `Bearer ${await token(signingKey)}` },
    });
    expect(answer.statusCode).toBe(503);
    expect(answer.json().error.code).toBe('CONCORD_AUTH_UNAVAILABLE');
  });

  it('reads the API keys file named by CONCORD_AUTH_API_KEYS_FILE (YAML), next to JWTs', async () => {
    const file = join(dir, 'keys.yaml');
    await writeFile(
      file,
      `# keys of the sync devices\n- sha256: ${sha256Hex('ck_reader_key_0000001')}\n  subject: dashboard\n  scopes: [events:read]\n`,
    );
    const server = await serverFor({ CONCORD_AUTH_API_KEYS_FILE: file, CONCORD_AUTH_JWKS_URL: jwksUrl });
    const byKey = await server.app.inject({
      url: '/v1/read',
      headers: { authorization: 'Bearer ck_reader_key_0000001' },
    });
    expect(byKey.json()).toEqual({ subject: 'dashboard', tenant: null });
    const byJwt = await server.app.inject({
      url: '/v1/read',
      headers: { authorization: `Bearer ${await token(signingKey)}` },
    });
    expect(byJwt.statusCode).toBe(200);
    await writeFile(join(dir, 'bad.json'), '[{"key": "k", "scopes": []}]');
    await expect(serverFor({ CONCORD_AUTH_API_KEYS_FILE: join(dir, 'bad.json') })).rejects.toMatchObject({
      code: 'CONCORD_CONFIG_INVALID',
    });
  });
});
