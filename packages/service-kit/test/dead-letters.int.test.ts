/**
 * The dead-letter routes over Postgres: a consumer group's bus dead letters collected from `<topic>.dlq`
 * (only the service's own groups'), an outbox row the relay gave up on, both listed and replayed through
 * the outbox by an admin; input checked with Concord's codes.
 */
import { DLQ_HEADERS, createMemoryBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { ConcordError, silentLogger } from '@concord/core';
import { createRelay } from '@concord/outbox';
import type { Relay } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import {
  authEnvShape,
  createDeadLettersModule,
  createHttpServer,
  createMetrics,
  httpAccessFromEnv,
  loadConfig,
} from '../src/index.js';
import type { HttpServer, ServiceModule } from '../src/index.js';
import { signTestToken } from '../src/testing/index.js';

const SECRET = 'dead-letters-test-secret-of-32-characters!';
const payload = new TextEncoder().encode('{}');

let database: TestDatabase;
let bus: MessageBus;
let relay: Relay;
let server: HttpServer;
let module: ServiceModule;
let admin: string;
let reader: string;
let failing = true;
const handled: IncomingMessage[] = [];

const call = async (method: 'GET' | 'POST', url: string, body?: unknown, token = admin) => {
  const response = await server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.statusCode, body: response.json<any>() };
};

const until = async (what: string, check: () => Promise<boolean> | boolean): Promise<void> => {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

beforeAll(async () => {
  database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  bus = createMemoryBus();
  await bus.declare([
    { topic: 't.a', groups: ['mine', 'theirs'] },
    { topic: 't.b', groups: ['mine'] },
  ]);
  const refuse = () => Promise.reject(new ConcordError('CONCORD_TEST_REFUSED', 'not now'));
  await bus.subscribe({
    group: 'mine',
    topics: ['t.a', 't.b'],
    handler: (message) => (failing ? refuse() : Promise.resolve(void handled.push(message))),
  });
  // Another service's group on the same topic: its dead letters are not this service's.
  await bus.subscribe({
    group: 'theirs',
    topics: ['t.a'],
    handler: (message) => (message.key === 'k2' ? refuse() : Promise.resolve()),
  });
  const access = await httpAccessFromEnv(
    loadConfig(z.object(authEnvShape), { CONCORD_AUTH_JWT_SECRET: SECRET }),
  );
  server = createHttpServer({
    logger: silentLogger,
    metrics: createMetrics('dead_letters_int'),
    checks: [],
    bodyLimit: 1024 * 1024,
    access,
  });
  module = createDeadLettersModule({
    db: database.db,
    bus,
    logger: silentLogger,
    consumers: [
      { group: 'mine', topic: 't.a' },
      { group: 'mine', topic: 't.b' },
    ],
  });
  await module.routes?.(server.app);
  await module.start();
  relay = createRelay({ db: database.db, bus, maxAttempts: 1, pollIntervalMs: 100, leaseTtlMs: 1500 });
  relay.start();
  admin = await signTestToken({ secret: SECRET, subject: 'ops', scope: 'admin' });
  reader = await signTestToken({ secret: SECRET, subject: 'viewer', scope: 'events:read' });
});

afterAll(async () => {
  await relay?.close();
  await module?.close();
  await bus?.close();
  await server?.close();
  await database?.close();
});

describe('bus dead letters', () => {
  it("collects the service's own groups' dead letters from <topic>.dlq", async () => {
    await bus.publish('t.a', [
      { id: 'm1', key: 'k1', payload, headers: { 'correlation-id': 'c1' } },
      { id: 'm2', key: 'k2', payload },
    ]);
    await bus.publish('t.b', [{ id: 'm3', key: 'k3', payload }]);
    await until('three dead letters', async () => {
      const { body } = await call('GET', '/v1/dead-letters?kind=bus');
      return body.deadLetters?.length === 3;
    });
    const { status, body } = await call('GET', '/v1/dead-letters?kind=bus&topic=t.a');
    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'bus', next: null });
    // Keys are handled concurrently: the two may have been dead-lettered in either order.
    const byMessage = (a: { messageId: string }, b: { messageId: string }) =>
      a.messageId.localeCompare(b.messageId);
    expect([...body.deadLetters].sort(byMessage)).toEqual([
      expect.objectContaining({
        kind: 'bus',
        group: 'mine',
        messageId: 'm1',
        topic: 't.a',
        key: 'k1',
        headers: { 'correlation-id': 'c1' },
        errorCode: 'CONCORD_TEST_REFUSED',
        error: 'not now',
        attempts: 1,
        payloadBytes: 2,
      }),
      expect.objectContaining({ group: 'mine', messageId: 'm2' }),
    ]);
    const page = await call('GET', '/v1/dead-letters?kind=bus&limit=2');
    expect(page.body.deadLetters).toHaveLength(2);
    const rest = await call('GET', `/v1/dead-letters?kind=bus&limit=2&after=${page.body.next}`);
    expect(rest.body).toMatchObject({ deadLetters: [expect.anything()], next: null });
    const paged = [...page.body.deadLetters, ...rest.body.deadLetters] as { messageId: string }[];
    expect(paged.map((d) => d.messageId).sort()).toEqual(['m1', 'm2', 'm3']);
  });

  it('replays one by id through the outbox, once; the group handles it', async () => {
    failing = false;
    const { body } = await call('GET', '/v1/dead-letters?kind=bus&topic=t.a');
    const letters = body.deadLetters as { id: string; messageId: string }[];
    const id = letters.find((d) => d.messageId === 'm1')?.id ?? '';
    expect(await call('POST', `/v1/dead-letters/bus/${id}/replay`)).toEqual({
      status: 200,
      body: { kind: 'bus', replayed: [id] },
    });
    await until('m1 handled', () => handled.some((m) => m.id === 'm1'));
    expect(handled.find((m) => m.id === 'm1')?.headers['correlation-id']).toBe('c1');
    const again = await call('POST', `/v1/dead-letters/bus/${id}/replay`);
    expect(again).toMatchObject({ status: 404, body: { error: { code: 'CONCORD_DEAD_LETTER_NOT_FOUND' } } });
  });

  it('replays the rest by filter, a limit at a time', async () => {
    const first = await call('POST', '/v1/dead-letters/bus/replay', { topic: 't.a', limit: 1 });
    expect(first).toMatchObject({ status: 200, body: { kind: 'bus', more: true, missing: [], refused: [] } });
    expect(first.body.replayed).toHaveLength(1);
    const none = await call('POST', '/v1/dead-letters/bus/replay', { topic: 't.a' });
    expect(none.body).toMatchObject({ replayed: [], more: false });
    const rest = await call('POST', '/v1/dead-letters/bus/replay', {});
    expect(rest.body).toMatchObject({ replayed: [expect.any(String)], more: false });
    await until('m2 and m3 handled', () => ['m2', 'm3'].every((id) => handled.some((m) => m.id === id)));
    expect(
      handled
        .filter((m) => ['m1', 'm2', 'm3'].includes(m.id))
        .map((m) => m.id)
        .sort(),
    ).toEqual(['m1', 'm2', 'm3']);
    expect((await call('GET', '/v1/dead-letters?kind=bus')).body.deadLetters).toEqual([]);
  });
});

describe('dead letters without a group', () => {
  it("keeps what the broker itself dead-lettered, and leaves the relay's to outbox_dead_letters", async () => {
    // One key: the relay's (error headers, no group) is handled before the broker's (no header at all).
    await bus.publish('t.b.dlq', [
      {
        id: 'x2',
        key: 'k7',
        payload,
        headers: { [DLQ_HEADERS.errorCode]: 'CONCORD_TEST_REFUSED', [DLQ_HEADERS.originalTopic]: 't.b' },
      },
      { id: 'x1', key: 'k7', payload },
    ]);
    await until('x1 kept', async () => {
      const { body } = await call('GET', '/v1/dead-letters?kind=bus');
      return body.deadLetters?.length === 1;
    });
    const { body } = await call('GET', '/v1/dead-letters?kind=bus');
    expect(body.deadLetters).toEqual([
      expect.objectContaining({
        messageId: 'x1',
        group: 'mine',
        topic: 't.b',
        error: 'dead-lettered by the broker',
      }),
    ]);
  });
});

describe('outbox dead letters', () => {
  it('lists a row the relay gave up on and replays it once the cause is fixed', async () => {
    // A header the bus refuses (not a string): the relay dead-letters the row at once.
    await database.db.query(
      `INSERT INTO concord.outbox (message_id, topic, key, headers, payload)
       VALUES ('o1', 't.b', 'k9', '{"x-count": 1}', '\\x7b7d')`,
    );
    await until('the outbox dead letter', async () => {
      const { body } = await call('GET', '/v1/dead-letters?kind=outbox');
      return body.deadLetters?.length === 1;
    });
    const { body } = await call('GET', '/v1/dead-letters?kind=outbox&errorCode=CONCORD_BUS_INVALID_MESSAGE');
    expect(body.deadLetters).toEqual([
      expect.objectContaining({ kind: 'outbox', messageId: 'o1', topic: 't.b', key: 'k9', attempts: 1 }),
    ]);
    await database.db.query(`UPDATE concord.outbox_dead_letters SET headers = '{"x-count": "1"}'`);
    const id = body.deadLetters[0].id as string;
    expect((await call('POST', '/v1/dead-letters/outbox/replay', { ids: [id, '12345'] })).body).toEqual({
      kind: 'outbox',
      replayed: [id],
      missing: ['12345'],
      refused: [],
      more: false,
    });
    await until('o1 handled', () => handled.some((m) => m.id === 'o1'));
    expect(handled.filter((m) => m.id === 'o1')).toHaveLength(1);
  });
});

describe('access and input', () => {
  it('needs the admin scope', async () => {
    expect((await call('GET', '/v1/dead-letters?kind=outbox', undefined, reader)).status).toBe(403);
    expect((await call('POST', '/v1/dead-letters/outbox/1/replay', undefined, reader)).status).toBe(403);
    expect((await call('POST', '/v1/dead-letters/outbox/replay', {}, reader)).status).toBe(403);
  });

  it('answers bad input with stable codes', async () => {
    const code = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown[]> => {
      const answer = await call(method, url, body);
      return [answer.status, answer.body.error?.code as unknown];
    };
    expect(await code('GET', '/v1/dead-letters')).toEqual([400, 'CONCORD_REQUEST_INVALID']);
    expect(await code('GET', '/v1/dead-letters?kind=mail')).toEqual([400, 'CONCORD_REQUEST_INVALID']);
    expect(await code('GET', '/v1/dead-letters?kind=webhook')).toEqual([
      404,
      'CONCORD_DEAD_LETTER_KIND_UNAVAILABLE',
    ]);
    expect(await code('GET', '/v1/dead-letters?kind=outbox&limit=0')).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
    expect(await code('GET', '/v1/dead-letters?kind=outbox&group=mine')).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
    expect(await code('GET', '/v1/dead-letters?kind=bus&before=yesterday')).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
    expect(await code('GET', '/v1/dead-letters?kind=bus&after=xyz')).toEqual([400, 'CONCORD_INVALID_CURSOR']);
    expect(await code('POST', '/v1/dead-letters/bus/nope/replay')).toEqual([
      404,
      'CONCORD_DEAD_LETTER_NOT_FOUND',
    ]);
    expect(await code('POST', '/v1/dead-letters/bus/%00/replay')).toEqual([
      404,
      'CONCORD_DEAD_LETTER_NOT_FOUND',
    ]);
    expect(await code('POST', '/v1/dead-letters/bus/replay', { ids: [] })).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
    expect(await code('POST', '/v1/dead-letters/bus/replay', { ids: ['1'], topic: 't.a' })).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
    expect(await code('POST', '/v1/dead-letters/bus/replay', { every: true })).toEqual([
      400,
      'CONCORD_REQUEST_INVALID',
    ]);
  });
});
