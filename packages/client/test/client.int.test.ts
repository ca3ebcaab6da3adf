import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../src/index.js';
import type {
  ConcordClient,
  ConcordClientError,
  LocalAggregate,
  OutcomeNotice,
  PendingChange,
} from '../src/index.js';
import { fileStore } from '../src/node/index.js';
import { EmbeddedConcord } from './support/embedded.js';
import { eventually } from './support/eventually.js';

let concord: EmbeddedConcord;
const dir = mkdtempSync(join(tmpdir(), 'concord-client-int-'));

beforeAll(async () => {
  concord = await EmbeddedConcord.start(`client-${process.pid}`);
}, 90_000);

afterAll(async () => {
  await concord.close();
  rmSync(dir, { recursive: true, force: true });
});

let aggregates = 0;
const newId = (prefix: string) => `${prefix}-${process.pid}-${++aggregates}-${Date.now()}`;

/** A fetch the test can cut off ("offline"), and that records the requests that went through. */
const switchableFetch = () => {
  const state = { offline: false, posted: [] as string[] };
  const fetchFn: typeof fetch = async (input, init) => {
    if (state.offline) throw new TypeError('fetch failed: network is down');
    if (init?.method === 'POST') {
      const body = JSON.parse(init.body as string) as { events: { id: string }[] };
      state.posted.push(...body.events.map((e) => e.id));
    }
    return fetch(input, init);
  };
  return { state, fetch: fetchFn };
};

/** Every applied event of the feed (a fresh read, from the start). */
const feedIds = async (): Promise<string[]> => {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ limit: '1000', ...(after === undefined ? {} : { after }) });
    const page = (await (await fetch(`${concord.url}/v1/events?${query.toString()}`)).json()) as {
      events: { event: { id: string } }[];
      next: string;
    };
    ids.push(...page.events.map((e) => e.event.id));
    if (page.events.length < 1000) return ids;
    after = page.next;
  }
};

const settledState = async (
  client: ConcordClient,
  type: string,
  id: string,
): Promise<LocalAggregate | undefined> => {
  await client.sync();
  const state = await client.get(type, id);
  return state?.pending === 0 && (await client.pending()).length === 0 ? state : undefined;
};

describe('@concord/client against an embedded Concord', () => {
  it('two clients change a task offline, come back, and converge on the policy’s result', async () => {
    const taskId = newId('task');
    const phoneNet = switchableFetch();
    const laptopNet = switchableFetch();
    // The laptop's clock is a second ahead: its title is the later write by HLC.
    const phone = createClient({
      url: concord.url,
      store: memoryStore(),
      origin: 'phone',
      fetch: phoneNet.fetch,
    });
    const laptop = createClient({
      url: concord.url,
      store: memoryStore(),
      origin: 'laptop',
      fetch: laptopNet.fetch,
      now: () => Date.now() + 1_000,
    });
    await phone.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskCreated',
      data: { title: 'Buy milk', tags: ['home'], status: 'open' },
    });
    await phone.sync();
    await laptop.sync();
    expect(await laptop.get('task', taskId)).toMatchObject({ version: 1, fields: { title: 'Buy milk' } });

    phoneNet.state.offline = true;
    laptopNet.state.offline = true;
    await phone.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskUpdated',
      data: { title: 'Buy oat milk' },
    });
    await phone.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskUpdated',
      data: { tags: ['home', 'shopping'] },
    });
    await laptop.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskUpdated',
      data: { title: 'Buy almond milk' },
    });
    await laptop.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskUpdated',
      data: { tags: ['home', 'errands'] },
    });
    await expect(phone.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_OFFLINE' });
    await expect(laptop.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_OFFLINE' });
    expect(phone.status()).toMatchObject({ online: false, pending: 2 });
    expect(await phone.get('task', taskId)).toMatchObject({
      version: 1,
      fields: { title: 'Buy oat milk', tags: ['home', 'shopping'], status: 'open' },
      pending: 2,
    });
    expect(await laptop.get('task', taskId)).toMatchObject({
      fields: { title: 'Buy almond milk', tags: ['home', 'errands'] },
    });

    const notices: OutcomeNotice[] = [];
    for (const outcome of ['applied', 'conflict', 'resolved'] as const)
      laptop.on(outcome, (n) => notices.push(n));
    phoneNet.state.offline = false;
    laptopNet.state.offline = false;
    const phoneSync = await phone.sync();
    expect(phoneSync.pushed.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    const laptopSync = await laptop.sync();
    expect(laptopSync.pushed.map((r) => r.outcome)).toEqual(['conflict', 'conflict']);

    const expected = { title: 'Buy almond milk', status: 'open' };
    const [onPhone, onLaptop] = await eventually(
      async () => {
        const states = [
          await settledState(phone, 'task', taskId),
          await settledState(laptop, 'task', taskId),
        ];
        return states.every((s) => s !== undefined) && states[0]?.version === states[1]?.version
          ? states
          : undefined;
      },
      { what: 'both clients to converge' },
    );
    expect(onPhone).toEqual(onLaptop);
    expect(onLaptop?.fields).toMatchObject(expected);
    expect([...((onLaptop?.fields['tags'] as string[] | undefined) ?? [])].sort()).toEqual([
      'errands',
      'home',
      'shopping',
    ]);

    const resolved = notices.filter((n) => n.outcome === 'resolved');
    expect(resolved).toHaveLength(2);
    expect(JSON.stringify(resolved.map((n) => n.decision))).toContain('task-tags-additive');
    expect(notices.filter((n) => n.outcome === 'conflict')).toHaveLength(2);

    // The projection the server serves says the same.
    const projected = await eventually(async () => {
      const response = await fetch(`${concord.url}/v1/aggregates/task/${taskId}`);
      const body = (await response.json()) as { version?: number; fields?: Record<string, unknown> };
      return body.version === onLaptop?.version ? body : undefined;
    });
    expect(projected.fields).toEqual(onLaptop?.fields);
  });

  it('a change sent to review shows the server’s provisional state, then the person’s decision', async () => {
    const orderId = newId('order');
    const shop = createClient({ url: concord.url, store: memoryStore(), origin: 'shop' });
    const till = createClient({ url: concord.url, store: memoryStore(), origin: 'till' });
    await shop.change({
      aggregateType: 'order',
      aggregateId: orderId,
      type: 'OrderCreated',
      data: { amount: 100, currency: 'EUR', status: 'pending' },
    });
    await shop.sync();
    await till.sync();
    await shop.change({
      aggregateType: 'order',
      aggregateId: orderId,
      type: 'OrderUpdated',
      data: { amount: 120 },
    });
    const mine = await till.change({
      aggregateType: 'order',
      aggregateId: orderId,
      type: 'OrderUpdated',
      data: { amount: 90 },
    });
    await shop.sync();
    const outcomes: OutcomeNotice[] = [];
    for (const outcome of ['conflict', 'pending_review', 'resolved'] as const)
      till.on(outcome, (n) => outcomes.push(n));
    expect((await till.sync()).pushed).toEqual([
      expect.objectContaining({ id: mine.id, outcome: 'conflict' }),
    ]);

    // The example policy's orders group sends a payment conflict to a person (provisionally first write wins).
    await eventually(
      async () => {
        await till.sync();
        const [held] = await till.pending();
        return held?.status === 'pending_review' ? held : undefined;
      },
      { what: 'the conflict to go to review' },
    );
    expect(await till.get('order', orderId)).toMatchObject({ fields: { amount: 120 }, pending: 0 });

    const decided = await fetch(`${concord.url}/v1/conflicts/${encodeURIComponent(mine.id)}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { amount: { value: 95 } }, userId: 'reviewer' }),
    });
    expect(decided.status).toBe(200);
    const state = await eventually(
      async () => {
        await till.sync();
        const local = await till.get('order', orderId);
        return (await till.pending()).length === 0 && local?.fields['amount'] === 95 ? local : undefined;
      },
      { what: 'the till to follow the decision' },
    );
    expect(state).toMatchObject({ fields: { amount: 95, currency: 'EUR', status: 'pending' }, pending: 0 });
    expect(outcomes.map((n) => n.outcome)).toEqual(['conflict', 'pending_review', 'resolved']);
    await shop.sync();
    expect(await shop.get('order', orderId)).toEqual(state);
  });

  it('a client restarted mid-queue (file store) loses nothing and sends nothing twice', async () => {
    const path = join(dir, 'restart.json');
    const [a, b] = [newId('task'), newId('task')];
    // The first push reaches the server, and its answer is lost: then the process "dies".
    let lose = true;
    const losing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST' && lose) {
        lose = false;
        throw new TypeError('fetch failed: socket hang up');
      }
      return response;
    };
    const before = createClient({
      url: concord.url,
      store: fileStore(path),
      origin: 'tablet',
      fetch: losing,
    });
    const made: PendingChange[] = [];
    for (const [aggregateId, title] of [
      [a, 'a1'],
      [b, 'b1'],
      [a, 'a2'],
      [b, 'b2'],
      [a, 'a3'],
    ] as const) {
      made.push(
        await before.change({ aggregateType: 'task', aggregateId, type: 'TaskUpdated', data: { title } }),
      );
    }
    await expect(before.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_OFFLINE' });

    const net = switchableFetch();
    const after = createClient({
      url: concord.url,
      store: fileStore(path),
      origin: 'tablet',
      fetch: net.fetch,
    });
    expect((await after.pending()).map((c) => [c.id, c.status])).toEqual(made.map((c) => [c.id, 'queued']));
    expect(await after.get('task', a)).toMatchObject({ version: 0, fields: { title: 'a3' }, pending: 3 });
    const result = await after.sync();
    expect(result.pushed.map((r) => [r.id, r.outcome, r.originalOutcome])).toEqual([
      [made[0]?.id, 'duplicate', 'applied'],
      [made[1]?.id, 'duplicate', 'applied'],
      [made[2]?.id, 'applied', undefined],
      [made[3]?.id, 'applied', undefined],
      [made[4]?.id, 'applied', undefined],
    ]);
    expect(result.outcomes.map((n) => n.outcome)).toEqual([
      'applied',
      'applied',
      'applied',
      'applied',
      'applied',
    ]);
    const ids = await feedIds();
    for (const change of made) expect(ids.filter((id) => id === change.id)).toHaveLength(1);
    expect(await after.get('task', a)).toEqual({
      aggregateType: 'task',
      aggregateId: a,
      version: 3,
      fields: { title: 'a3' },
      pending: 0,
    });
    expect(await after.get('task', b)).toMatchObject({ version: 2, fields: { title: 'b2' }, pending: 0 });
    await after.close();

    // Restarted again: the cursor is where it was; nothing is pulled twice, nothing pushed.
    const again = switchableFetch();
    const third = createClient({
      url: concord.url,
      store: fileStore(path),
      origin: 'tablet',
      fetch: again.fetch,
    });
    const quiet = await third.sync();
    expect(quiet.pushed).toEqual([]);
    expect(quiet.pulled.filter((p) => made.some((c) => c.id === p.id))).toEqual([]);
    expect(again.state.posted).toEqual([]);
    expect(await third.get('task', b)).toMatchObject({ version: 2, fields: { title: 'b2' } });
    await third.close();
  });

  it('autosync follows the stream, rides out a server outage, and catches up after it', async () => {
    const taskId = newId('task');
    const errors: ConcordClientError[] = [];
    const watcher = createClient({
      url: concord.url,
      store: memoryStore(),
      origin: 'watcher',
      // Polls only while the stream is down; while it is up, only the stream wakes a sync.
      autosync: { pollIntervalMs: 300, idleSyncMs: 600_000, backoffInitialMs: 100, backoffMaxMs: 1_000 },
    });
    watcher.on('error', (e) => errors.push(e));
    const writer = createClient({ url: concord.url, store: memoryStore(), origin: 'writer' });
    watcher.start();
    await eventually(() => (watcher.status().streaming ? true : undefined), { what: 'the stream to open' });

    await writer.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskCreated',
      data: { title: 'one' },
    });
    await writer.sync();
    await eventually(async () => ((await watcher.get('task', taskId))?.version === 1 ? true : undefined), {
      what: 'the watcher to hear of the change over the stream',
      timeoutMs: 10_000,
    });

    expect(await concord.stop()).toBe(0);
    await watcher.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskUpdated',
      data: { title: 'offline edit' },
    });
    await eventually(() => (!watcher.status().online && !watcher.status().streaming ? true : undefined), {
      what: 'the watcher to notice the outage',
    });
    expect(watcher.status().pending).toBe(1);
    expect(await watcher.get('task', taskId)).toMatchObject({
      version: 1,
      fields: { title: 'offline edit' },
      pending: 1,
    });

    await concord.start();
    await eventually(
      async () => {
        const state = await watcher.get('task', taskId);
        const { online, streaming, pending } = watcher.status();
        return state?.version === 2 && online && streaming && pending === 0 ? state : undefined;
      },
      { what: 'the watcher to push its edit after the outage', timeoutMs: 30_000 },
    );
    expect(errors.map((e) => e.code)).toContain('CONCORD_CLIENT_OFFLINE');
    await writer.sync();
    expect(await writer.get('task', taskId)).toMatchObject({ version: 2, fields: { title: 'offline edit' } });
    await watcher.close();
  }, 120_000);

  it('autosync waits out a 429 and a 503 push-back for their Retry-After', async () => {
    const taskId = newId('task');
    const attempts: { path: string; at: number; status: number }[] = [];
    const pushBacks = [
      { path: '/v1/events', method: 'POST', status: 429 },
      { path: '/v1/events', method: 'GET', status: 503 },
    ];
    const pushingBack: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const method = init?.method ?? 'GET';
      const index = pushBacks.findIndex((p) => p.path === url.pathname && p.method === method);
      if (index !== -1) {
        const [pushBack] = pushBacks.splice(index, 1);
        attempts.push({ path: `${method} ${url.pathname}`, at: Date.now(), status: pushBack?.status ?? 0 });
        return new Response(JSON.stringify({ error: { code: 'CONCORD_OVERLOADED', message: 'busy' } }), {
          status: pushBack?.status ?? 503,
          headers: { 'content-type': 'application/json', 'retry-after': '1' },
        });
      }
      if (url.pathname === '/v1/events')
        attempts.push({ path: `${method} ${url.pathname}`, at: Date.now(), status: 200 });
      return fetch(input, init);
    };
    const client = createClient({
      url: concord.url,
      store: memoryStore(),
      origin: 'busy',
      fetch: pushingBack,
      // Without the pause, a retry would come within 20 ms.
      autosync: { pollIntervalMs: 20, backoffInitialMs: 20, backoffMaxMs: 20 },
    });
    const errors: ConcordClientError[] = [];
    client.on('error', (e) => errors.push(e));
    await client.change({
      aggregateType: 'task',
      aggregateId: taskId,
      type: 'TaskCreated',
      data: { title: 'x' },
    });
    client.start();
    await eventually(async () => ((await client.get('task', taskId))?.version === 1 ? true : undefined), {
      what: 'the change to be pushed and pulled',
    });
    await client.stop();
    expect(errors.map((e) => [e.code, e.status, e.retryAfterMs])).toEqual([
      ['CONCORD_CLIENT_PUSHED_BACK', 429, 1000],
      ['CONCORD_CLIENT_PUSHED_BACK', 503, 1000],
    ]);
    const refusedPost = attempts.findIndex((a) => a.status === 429);
    const nextPost = attempts.findIndex((a, i) => i > refusedPost && a.path === 'POST /v1/events');
    const refusedFeed = attempts.findIndex((a) => a.status === 503);
    const nextFeed = attempts.findIndex((a, i) => i > refusedFeed && a.path === 'GET /v1/events');
    expect(nextPost).toBeGreaterThan(refusedPost);
    expect(nextFeed).toBeGreaterThan(refusedFeed);
    expect((attempts[nextPost]?.at ?? 0) - (attempts[refusedPost]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect((attempts[nextFeed]?.at ?? 0) - (attempts[refusedFeed]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    await client.close();
  });
});
