import { brotliDecompressSync, deflateSync, gunzipSync } from 'node:zlib';
import { silentLogger } from '@concord/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodedBodyBytes, negotiateEncoding } from '../src/compression.js';
import { createHttpServer, createMetrics } from '../src/index.js';
import type { HttpServer } from '../src/index.js';

/** Test routes declare a scope, as every route must (authentication is off here). */
const OPEN = { config: { scope: 'events:read' } } as const;

const big = { items: Array.from({ length: 200 }, (_, i) => ({ i, text: 'the same words again' })) };

describe('compressed request and response bodies', () => {
  let server: HttpServer;
  beforeAll(async () => {
    server = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics(`kit_${Date.now()}`),
      checks: [],
      bodyLimit: 1024,
    });
    server.app.get('/big', OPEN, () => big);
    server.app.get('/stream', OPEN, (_request, reply) =>
      reply.type('text/event-stream').send(`data: ${'x'.repeat(4096)}\n\n`),
    );
    server.app.post('/echo', OPEN, (request) => ({
      got: request.body,
      decoded: decodedBodyBytes(request) ?? null,
    }));
    await server.app.ready();
  });
  afterAll(() => server.close());

  const get = (url: string, acceptEncoding?: string) =>
    server.app.inject({
      method: 'GET',
      url,
      headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
    });

  it('sends br or gzip as Accept-Encoding prefers, and plain JSON without it', async () => {
    const br = await get('/big', 'gzip;q=0.5, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(JSON.parse(brotliDecompressSync(br.rawPayload).toString())).toEqual(big);
    const gz = await get('/big', 'gzip, br;q=0');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(gz.rawPayload).toString())).toEqual(big);
    const plain = await get('/big');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.json()).toEqual(big);
  });

  it('never compresses an event stream or a small body', async () => {
    expect((await get('/stream', 'gzip')).headers['content-encoding']).toBeUndefined();
    expect((await get('/healthz', 'gzip')).headers['content-encoding']).toBeUndefined();
  });

  it('holds a deflate body to the limit after decompression', async () => {
    const post = (payload: unknown) =>
      server.app.inject({
        method: 'POST',
        url: '/echo',
        headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' },
        payload: deflateSync(JSON.stringify(payload)),
      });
    // The decompressed size is known to the route (what the body holds in memory).
    expect((await post({ a: 1 })).json()).toEqual({ got: { a: 1 }, decoded: 7 });
    const plain = await server.app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    expect(plain.json()).toEqual({ got: { a: 1 }, decoded: null });
    const large = await post({ a: 'x'.repeat(2000) });
    expect(large.statusCode).toBe(413);
    expect(large.json()).toMatchObject({ error: { code: 'CONCORD_BODY_TOO_LARGE' } });
  });

  it('ignores Content-Encoding on a request without a body, and survives a corrupt one', async () => {
    const get = await server.app.inject({
      method: 'GET',
      url: '/big',
      headers: { 'content-encoding': 'gzip' },
    });
    expect(get.statusCode).toBe(200);
    const corrupt = await server.app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
      payload: 'not brotli at all',
    });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json()).toMatchObject({ error: { code: 'CONCORD_BODY_ENCODING_INVALID' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('reads q-values, wildcards and refusals', () => {
    expect(negotiateEncoding(undefined)).toBeUndefined();
    expect(negotiateEncoding('identity')).toBeUndefined();
    expect(negotiateEncoding('*')).toBe('br');
    expect(negotiateEncoding('*;q=0.1, gzip;q=0.8')).toBe('gzip');
    expect(negotiateEncoding('br;q=0, gzip;q=0')).toBeUndefined();
  });
});
