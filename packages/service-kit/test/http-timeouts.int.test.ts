import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { silentLogger } from '@concord/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  createMetrics,
  DEFAULT_HTTP_TIMEOUTS,
  exemptFromIdleTimeout,
} from '@concord/service-kit';
import type { HttpServer, HttpTimeouts } from '@concord/service-kit';

/** Test routes declare a scope, as every route must (authentication is off here). */
const OPEN = { config: { scope: 'events:read' } } as const;

const servers: HttpServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const start = async (timeouts: Partial<HttpTimeouts>) => {
  const server = createHttpServer({
    logger: silentLogger,
    metrics: createMetrics('test'),
    checks: [],
    bodyLimit: 1024 * 1024,
    timeouts,
  });
  server.app.post('/echo', OPEN, (request) => ({ received: request.body }));
  const slow = () => new Promise((resolve) => setTimeout(() => resolve({ done: true }), 800));
  server.app.get('/slow', OPEN, async () => slow());
  server.app.get('/slow-exempt', OPEN, async (request) => {
    exemptFromIdleTimeout(request);
    return slow();
  });
  server.app.get('/stream', OPEN, (request, reply) => {
    exemptFromIdleTimeout(request);
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write(': connected\n\n');
  });
  servers.push(server);
  const url = new URL(await server.listen(0, '127.0.0.1'));
  return Number(url.port);
};

/** A raw connection that records what it receives and when it is closed. */
const open = (port: number) => {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const state = { received: '', closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  return { socket, state };
};

const waitUntil = async (what: string, check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('HTTP timeouts', () => {
  it('are on by default (Fastify turns the request timeout off)', () => {
    expect(DEFAULT_HTTP_TIMEOUTS.requestMs).toBeGreaterThan(0);
    expect(DEFAULT_HTTP_TIMEOUTS.headersMs).toBeGreaterThan(0);
    expect(DEFAULT_HTTP_TIMEOUTS.idleMs).toBeGreaterThan(0);
    const server = createHttpServer({
      logger: silentLogger,
      metrics: createMetrics('test'),
      checks: [],
      bodyLimit: 1024,
    });
    servers.push(server);
    expect(server.app.server.requestTimeout).toBe(DEFAULT_HTTP_TIMEOUTS.requestMs);
    expect(server.app.server.headersTimeout).toBe(DEFAULT_HTTP_TIMEOUTS.headersMs);
    expect(server.app.server.timeout).toBe(DEFAULT_HTTP_TIMEOUTS.idleMs);
  });

  // Issue 16: 180 request bodies dripping one byte every 5 s were all still open after 120 s.
  it('closes a request whose body drips in slower than the request timeout, and one that never sends headers', async () => {
    const port = await start({ headersMs: 300, requestMs: 600, idleMs: 60_000 });
    const dripping = open(port);
    dripping.socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    const drip = setInterval(() => dripping.socket.write(' '), 100);
    const silent = open(port);
    silent.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    try {
      await waitUntil('the dripping request closed', () => dripping.state.closed, 5_000);
      await waitUntil('the headerless request closed', () => silent.state.closed, 5_000);
    } finally {
      clearInterval(drip);
    }
    expect(dripping.state.received).not.toMatch(/"received"/);
  });

  it('lets a prompt request through and leaves a stream open past the request and idle timeouts', async () => {
    const port = await start({ headersMs: 200, requestMs: 300, idleMs: 300, keepAliveMs: 300 });
    const prompt = open(port);
    const body = '{"a":1}';
    prompt.socket.write(
      `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await waitUntil('the answer', () => prompt.state.received.includes('"received"'), 5_000);

    const stream = open(port);
    stream.socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the stream', () => stream.state.received.includes(': connected'), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(stream.state.closed).toBe(false);
    // An ordinary connection with nothing going on is closed all the same.
    await waitUntil('the idle keep-alive connection closed', () => prompt.state.closed, 5_000);
  });

  it('cuts a handler silent past the idle timeout unless its route lifts it (a long rebuild), also under inject', async () => {
    const port = await start({ headersMs: 200, requestMs: 300, idleMs: 300 });
    const plain = open(port);
    plain.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    const exempt = open(port);
    exempt.socket.write('GET /slow-exempt HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the exempt answer', () => exempt.state.received.includes('"done":true'), 5_000);
    await waitUntil('the silent connection closed', () => plain.state.closed, 5_000);
    expect(plain.state.received).toBe('');
    const injected = await (servers.at(-1) as HttpServer).app.inject({ url: '/slow-exempt' });
    expect(injected.json()).toEqual({ done: true });
  });
});
