import { request as httpRequest } from 'node:http';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { createHttpServer, createMetrics } from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { registerStreamRoute } from '../src/http/stream.js';
import type { StreamLimits } from '../src/http/stream.js';
import { createNotifierMetrics } from '../src/metrics.js';
import { comparePositions, LOG_START } from '../src/store/log.js';
import type { LogEntry, LogPosition, NotificationLog } from '../src/store/log.js';
import type { FeedListener, NotificationFeed } from '../src/stream/feed.js';

/**
 * Streams against an in-memory log and feed, over real sockets: what a client that stops reading
 * costs the server, the stall deadline, and the caps on streams (issue 16: a client that stopped
 * reading kept 17–28 MB of replay buffered in the server; there was no cap on streams).
 */

const PAYLOAD = 'x'.repeat(10_000);

/** A log of `count` applied notifications of about 10 KB each, and a feed whose entries it holds too. */
const memoryLog = (count: number) => {
  const entries: LogEntry[] = [];
  const listeners = new Set<FeedListener>();
  let reads = 0;
  const add = () => {
    const id = String(entries.length + 1);
    entries.push({
      position: { txId: id, id },
      notification: {
        id,
        kind: 'applied',
        topic: Topics.applied,
        messageId: `m-${id}`,
        aggregateType: 'task',
        aggregateId: `task-${id}`,
        createdAt: '2026-01-01T00:00:00.000Z',
        data: { payload: PAYLOAD },
      },
    });
    return entries.at(-1) as LogEntry;
  };
  for (let i = 0; i < count; i += 1) add();
  const log = {
    readAfter: (_sql: unknown, after: LogPosition, limit: number) => {
      reads += 1;
      return Promise.resolve(
        entries.filter((entry) => comparePositions(entry.position, after) > 0).slice(0, limit),
      );
    },
    head: () => Promise.resolve(LOG_START),
    positionOf: (_sql: unknown, id: string) => Promise.resolve({ txId: id, id }),
    prunedThrough: () => Promise.resolve(LOG_START),
  } as unknown as NotificationLog;
  const feed: NotificationFeed = {
    start: () => Promise.resolve(),
    wake: () => undefined,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => Promise.resolve(),
  };
  /** Commits `n` more notifications and hands them to the live streams. */
  const publish = (n: number) => {
    const added = Array.from({ length: n }, add);
    for (const listener of listeners) listener(added);
  };
  return { log, feed, publish, reads: () => reads, size: () => entries.length };
};

const servers: HttpServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const start = async (options: { count: number; limits?: Partial<StreamLimits> }) => {
  const memory = memoryLog(options.count);
  const metrics = createMetrics('notifier-test');
  const server = createHttpServer({ logger: silentLogger, metrics, checks: [], bodyLimit: 1024 });
  const responses: ServerResponse[] = [];
  server.app.addHook('onRequest', (request, reply, done) => {
    if (request.url.startsWith('/v1/stream')) responses.push(reply.raw);
    done();
  });
  registerStreamRoute(server.app, {
    db: {} as Database,
    log: memory.log,
    feed: memory.feed,
    metrics: createNotifierMetrics(metrics.registry),
    heartbeatMs: 60_000,
    logger: silentLogger,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  servers.push(server);
  const port = Number(new URL(await server.listen(0, '127.0.0.1')).port);
  return { ...memory, port, responses };
};

/** A raw stream client from `localAddress`; a paused one reads nothing until `resume()`. */
const openStream = (port: number, path: string, localAddress = '127.0.0.1', paused = true) => {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  socket.setNoDelay(true);
  const state = { text: '', closed: false };
  if (paused) socket.pause();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (state.text += chunk));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  return { socket, state };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitUntil = async (what: string, check: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

/** Status and error code of one plain GET. */
const get = (port: number, path: string, localAddress = '127.0.0.1') =>
  new Promise<{ status: number; code?: string | undefined }>((resolve, reject) => {
    const request = httpRequest({ port, host: '127.0.0.1', localAddress, path }, (response) => {
      if (response.headers['content-type']?.startsWith('text/event-stream')) {
        resolve({ status: response.statusCode ?? 0 });
        response.destroy();
        return;
      }
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          code: (JSON.parse(body) as { error?: { code?: string } }).error?.code,
        }),
      );
    });
    request.on('error', reject);
    request.end();
  });

/** Event ids in the text received so far. */
const idsIn = (text: string): number[] => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

describe('streams and slow clients', () => {
  it('a client that stops reading pins at most one event beyond the socket buffer, and one page of the log', async () => {
    // 3,000 × 10 KB = 30 MB of replay, more than loopback's socket buffers take.
    const server = await start({ count: 3_000, limits: { stallMs: 60_000, pageSize: 100 } });
    openStream(server.port, '/v1/stream?lastEventId=0');
    await waitUntil('the stream', () => server.responses.length === 1);
    const response = server.responses[0] as ServerResponse;
    let last = -1;
    await waitUntil('the server to stop writing', () => {
      const now = response.writableLength;
      const settled = now === last && now > 0;
      last = now;
      return settled;
    });
    await sleep(300);
    expect(response.destroyed).toBe(false);
    // What the server holds: its buffer's high-water mark and the event that crossed it (the old code
    // wrote pages of 500 entries at once and held up to 8 MB).
    expect(response.writableLength).toBeLessThan(response.writableHighWaterMark + 2 * PAYLOAD.length);
    // Pages read: what the kernel's buffers took (a few MB), in pages of 100 entries (1 MB), not the log.
    expect(server.reads()).toBeLessThan(15);
  });

  it('destroys a stream whose client leaves the buffer full past the stall deadline', async () => {
    const server = await start({ count: 3_000, limits: { stallMs: 400 } });
    openStream(server.port, '/v1/stream?lastEventId=0');
    await waitUntil('the stream', () => server.responses.length === 1);
    const response = server.responses[0] as ServerResponse;
    // Destroyed, not ended: an ended stream keeps its buffer until the client reads it.
    await waitUntil('the stuck stream destroyed', () => response.destroyed, 5_000);
    expect(response.socket?.destroyed ?? true).toBe(true);
  });

  it('a slow reader gets every event once, in order, live ones that came while it was behind included', async () => {
    const server = await start({ count: 1_500, limits: { stallMs: 60_000, pageSize: 50 } });
    const client = openStream(server.port, '/v1/stream?lastEventId=0');
    await waitUntil('the stream', () => server.responses.length === 1);
    const response = server.responses[0] as ServerResponse;
    await waitUntil('the buffer full', () => response.writableNeedDrain);
    server.publish(200);
    client.socket.resume();
    await waitUntil('the live events', () => idsIn(client.state.text).at(-1) === 1_700);
    server.publish(5);
    await waitUntil('later live events', () => idsIn(client.state.text).at(-1) === 1_705);
    expect(idsIn(client.state.text)).toEqual(Array.from({ length: 1_705 }, (_, i) => i + 1));
  });

  it('caps open streams per client address (429) and in all (503), and frees a slot when a stream closes', async () => {
    const server = await start({ count: 0, limits: { maxStreams: 3, maxPerClient: 2 } });
    const first = openStream(server.port, '/v1/stream');
    openStream(server.port, '/v1/stream');
    await waitUntil('two streams', () => server.responses.length === 2);
    expect(await get(server.port, '/v1/stream')).toEqual({
      status: 429,
      code: 'CONCORD_STREAM_CLIENT_LIMIT',
    });
    expect(await get(server.port, '/healthz')).toMatchObject({ status: 200 });
    openStream(server.port, '/v1/stream', '127.0.0.2');
    await waitUntil('three streams', () => server.responses.length === 4);
    expect(await get(server.port, '/v1/stream', '127.0.0.3')).toEqual({
      status: 503,
      code: 'CONCORD_STREAM_LIMIT',
    });
    first.socket.destroy();
    await waitUntil('the slot freed', () => server.responses[0]?.destroyed === true);
    await sleep(50);
    const next = openStream(server.port, '/v1/stream', '127.0.0.3', false);
    await waitUntil('a stream again', () => next.state.text.includes(': connected'));
  });
});
