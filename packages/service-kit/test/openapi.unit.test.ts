import { silentLogger } from '@concord/core';
import { createAuthenticator, createHttpServer, createMetrics, sha256Hex } from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';
import { errorResponse, jsonResponse, namedSchema, openApiPath } from '@concord/service-kit/openapi';
import { afterEach, describe, expect, it } from 'vitest';

const THING = namedSchema('TestThing', {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' }, size: { type: 'integer' } },
});

let server: HttpServer | undefined;

const start = (withAuth = false): HttpServer => {
  server = createHttpServer({
    service: 'test',
    logger: silentLogger,
    metrics: createMetrics(`openapi_${Math.random().toString(36).slice(2)}`),
    checks: [],
    bodyLimit: 1024 * 1024,
    ...(withAuth
      ? {
          access: {
            corsOrigins: [],
            rateLimitPerMin: 0,
            authenticator: createAuthenticator({
              apiKeys: [{ sha256: sha256Hex('key-1'), subject: 'k', scopes: ['events:read'] }],
            }),
          },
        }
      : {}),
  });
  return server;
};

afterEach(async () => {
  await server?.close();
  server = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document's JSON, read by the assertions
const documentOf = async (http: HttpServer): Promise<Record<string, any>> => {
  const answer = await http.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(answer.statusCode).toBe(200);
  return answer.json();
};

describe('the OpenAPI document', () => {
  it('describes every route from its schema, with its scope as the security requirement', async () => {
    const http = start();
    http.app.get(
      '/v1/things/:id',
      {
        config: { scope: 'events:read' },
        schema: {
          operationId: 'getThing',
          summary: 'A thing',
          tags: ['things'],
          params: { type: 'object', properties: { id: { type: 'string', description: 'its id' } } },
          querystring: {
            type: 'object',
            required: ['view'],
            properties: { view: { enum: ['short', 'long'] } },
          },
          response: { 200: jsonResponse('The thing.', THING), 404: errorResponse('No thing.') },
        },
      },
      () => ({ id: 'a' }),
    );
    http.app.post(
      '/v1/things',
      {
        config: { scope: 'admin' },
        schema: { body: { type: 'object', properties: { size: { type: 'integer' } } } },
      },
      () => ({}),
    );
    const doc = await documentOf(http);
    expect(doc['openapi']).toBe('3.1.0');
    expect(doc['info']['title']).toBe('Concord test');
    expect(Object.keys(doc['paths'] as object)).toEqual(
      expect.arrayContaining(['/v1/things/{id}', '/v1/things', '/healthz', '/openapi.json', '/docs']),
    );

    const get = doc['paths']['/v1/things/{id}']['get'];
    expect(get.operationId).toBe('getThing');
    expect(get.tags).toEqual(['things']);
    expect(get.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'its id', schema: { type: 'string' } },
      { name: 'view', in: 'query', required: true, schema: { enum: ['short', 'long'] } },
    ]);
    expect(get.security).toEqual([{ bearerJwt: ['events:read'] }, { apiKey: ['events:read'] }]);
    expect(get['x-concord-scope']).toBe('events:read');
    expect(get.responses['200']).toEqual({
      description: 'The thing.',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/TestThing' } } },
    });
    expect(get.responses['404'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(get.responses['401']).toEqual({ $ref: '#/components/responses/Unauthenticated' });
    expect(get.responses['403']).toEqual({ $ref: '#/components/responses/Forbidden' });
    expect(doc['components']['schemas']['TestThing']).toEqual(THING);
    expect(Object.keys(doc['components']['schemas'] as object)).toContain('Error');

    // No operationId given: one derived from the route; a body of optional members is optional.
    const post = doc['paths']['/v1/things']['post'];
    expect(post.operationId).toBe('postV1Things');
    expect(post.requestBody.required).toBe(false);
    expect(post.security).toEqual([{ bearerJwt: ['admin'] }, { apiKey: ['admin'] }]);

    // Public routes need no token and list no 401.
    const health = doc['paths']['/healthz']['get'];
    expect(health.security).toEqual([]);
    expect(health.responses['401']).toBeUndefined();
  });

  it('maps Fastify paths to OpenAPI templates', () => {
    expect(openApiPath('/v1/aggregates/:type/:id/history')).toBe('/v1/aggregates/{type}/{id}/history');
    expect(openApiPath('/console/*')).toBe('/console/{wildcard}');
    expect(openApiPath('/x/:n(^\\d+)')).toBe('/x/{n}');
  });
});

describe('route schemas document, they do not change what a route does', () => {
  it('serializes a response as it is: members the schema leaves out are kept, nothing is coerced', async () => {
    const http = start();
    const schema = {
      response: {
        200: { type: 'object', properties: { count: { type: 'string' }, name: { type: 'string' } } },
      },
    };
    http.app.get('/t', { config: { scope: 'events:read' }, schema }, () => ({
      count: 3,
      name: null,
      extra: { nested: [1] },
    }));
    const answer = await http.app.inject({ method: 'GET', url: '/t' });
    expect(answer.json()).toEqual({ count: 3, name: null, extra: { nested: [1] } });
  });

  it('hands the handler the request as sent: no coercion, no defaults, no refusal by the schema', async () => {
    const http = start();
    const seen: unknown[] = [];
    http.app.post(
      '/t',
      {
        config: { scope: 'events:read' },
        schema: {
          querystring: { type: 'object', properties: { limit: { type: 'integer', default: 5 } } },
          body: {
            type: 'object',
            required: ['n'],
            additionalProperties: false,
            properties: { n: { type: 'integer' } },
          },
        },
      },
      (request) => {
        seen.push(request.query, request.body);
        return {};
      },
    );
    const answer = await http.app.inject({
      method: 'POST',
      url: '/t?limit=abc',
      payload: { n: '1', other: true },
    });
    expect(answer.statusCode).toBe(200);
    expect(seen).toEqual([{ limit: 'abc' }, { n: '1', other: true }]);
  });
});

describe('/openapi.json and /docs', () => {
  it('are public with authentication on, and the page loads its files from this server', async () => {
    const http = start(true);
    expect((await http.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await http.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    const page = await http.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '');
    expect(sources.length).toBeGreaterThanOrEqual(4);
    for (const source of sources) {
      // Relative to /docs: no other origin, no CDN.
      expect(source).toMatch(/^docs\/[\w.-]+$/);
      const file = await http.app.inject({ method: 'GET', url: `/${source}` });
      expect(file.statusCode, source).toBe(200);
      expect(file.rawPayload.length, source).toBeGreaterThan(100);
    }
    const init = await http.app.inject({ method: 'GET', url: '/docs/init.js' });
    expect(init.body).toContain("url: 'openapi.json'");
    expect(init.body).toContain('validatorUrl: null');

    const missing = await http.app.inject({ method: 'GET', url: '/docs/package.json' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('CONCORD_NOT_FOUND');
    // Everything else still needs a token.
    expect((await http.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
  });
});
