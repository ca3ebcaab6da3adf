import { describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../src/index.js';
import type { ClientStatus, ClientStore, OutcomeNotice } from '../src/index.js';
import { eventually } from './support/eventually.js';
import { FakeConcord } from './support/fake-concord.js';

const URL_ = 'http://concord.test';

const clientOf = (server: FakeConcord, store: ClientStore = memoryStore(), origin = 'phone') =>
  createClient({ url: URL_, store, origin, fetch: server.fetch });

describe('client (against a fake Concord)', () => {
  it('shows a change at once, on top of the confirmed state, before any sync', async () => {
    const server = new FakeConcord();
    const client = clientOf(server);
    const change = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'Buy milk', status: 'open' },
    });
    expect(change).toMatchObject({ status: 'queued', baseVersion: 0, origin: 'phone' });
    expect(change.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(change.hlc).toMatch(/^\d{15}-\d{6}-phone$/);
    expect(await client.get('task', 't1')).toEqual({
      aggregateType: 'task',
      aggregateId: 't1',
      version: 0,
      fields: { title: 'Buy milk', status: 'open' },
      pending: 1,
    });
    expect(server.requests).toEqual([]);
  });

  it('sync pushes in order, pulls the feed, and the confirmed state takes over', async () => {
    const server = new FakeConcord();
    const client = clientOf(server);
    const created = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a' },
    });
    const renamed = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'b' },
    });
    const other = await client.change({
      aggregateType: 'task',
      aggregateId: 't2',
      type: 'TaskCreated',
      data: { title: 'c' },
    });
    expect(renamed.after).toBe(created.id);
    const result = await client.sync();
    // t1's second change waits for the first's answer; t2's goes with the first batch.
    expect(result.pushed.map((r) => [r.id, r.outcome, r.version])).toEqual([
      [created.id, 'applied', 1],
      [other.id, 'applied', 1],
      [renamed.id, 'applied', 2],
    ]);
    expect(server.received).toEqual([created.id, other.id, renamed.id]);
    expect(result.pulled.map((p) => p.id)).toEqual([created.id, other.id, renamed.id]);
    expect(await client.get('task', 't1')).toEqual({
      aggregateType: 'task',
      aggregateId: 't1',
      version: 2,
      fields: { title: 'b' },
      pending: 0,
    });
    expect(await client.pending()).toEqual([]);
    const again = await client.sync();
    expect(again).toEqual({ pushed: [], pulled: [], outcomes: [] });
  });

  it('bases a change on the confirmed version, and a successor on its predecessor’s clean apply', async () => {
    const server = new FakeConcord();
    const client = clientOf(server);
    await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a' },
    });
    await client.sync();
    const first = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'b' },
    });
    const second = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'c' },
    });
    expect(first.baseVersion).toBe(1);
    expect(second.baseVersion).toBe(1);
    const result = await client.sync();
    // Rebased on 2 after the first applied: no conflict with its own predecessor.
    expect(result.pushed.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect((await client.get('task', 't1'))?.fields).toEqual({ title: 'c' });
  });

  it('a retry after a lost response is a duplicate, never a second apply', async () => {
    const server = new FakeConcord();
    const store = memoryStore();
    const client = clientOf(server, store);
    const change = await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a' },
    });
    server.loseNextResponse = true;
    await expect(client.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_OFFLINE', retryable: true });
    expect(await client.get('task', 't1')).toMatchObject({ version: 0, fields: { title: 'a' }, pending: 1 });
    // A new client on the same store (a restart) finds the change still queued.
    const restarted = clientOf(server, store);
    expect((await restarted.pending()).map((c) => [c.id, c.status])).toEqual([[change.id, 'queued']]);
    const result = await restarted.sync();
    expect(result.pushed).toEqual([
      expect.objectContaining({
        id: change.id,
        outcome: 'duplicate',
        originalOutcome: 'applied',
        version: 1,
      }),
    ]);
    expect(result.outcomes).toEqual([expect.objectContaining({ id: change.id, outcome: 'applied' })]);
    expect(server.rows.map((r) => r.event.id)).toEqual([change.id]);
    expect(await restarted.get('task', 't1')).toMatchObject({
      version: 1,
      fields: { title: 'a' },
      pending: 0,
    });
  });

  it('keeps a conflicting change on top until the server decides, then follows the decision', async () => {
    const server = new FakeConcord();
    const phone = clientOf(server, memoryStore(), 'phone');
    const laptop = clientOf(server, memoryStore(), 'laptop');
    await phone.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a', tags: [] },
    });
    await phone.sync();
    await laptop.sync();
    await phone.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { tags: ['x'] },
    });
    const mine = await laptop.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { tags: ['y'] },
    });
    await phone.sync();
    const seen: OutcomeNotice[] = [];
    laptop.on('conflict', (n) => seen.push(n));
    laptop.on('resolved', (n) => seen.push(n));
    const first = await laptop.sync();
    expect(first.pushed).toEqual([expect.objectContaining({ id: mine.id, outcome: 'conflict' })]);
    // Confirmed is the phone's version 2; the held change still shows on top.
    expect(await laptop.get('task', 't1')).toMatchObject({ version: 2, fields: { tags: ['y'] }, pending: 1 });
    expect(await laptop.sync()).toMatchObject({ outcomes: [] });

    server.decide(mine.id, 'resolved', { tags: ['x', 'y'] });
    const decided = await laptop.sync();
    expect(decided.outcomes).toEqual([
      expect.objectContaining({
        id: mine.id,
        outcome: 'resolved',
        version: 3,
        decision: expect.objectContaining({ strategy: 'test' }),
      }),
    ]);
    expect(decided.pulled.map((p) => p.id)).toEqual([`${mine.id}:resolution`]);
    expect(await laptop.get('task', 't1')).toMatchObject({
      version: 3,
      fields: { title: 'a', tags: ['x', 'y'] },
      pending: 0,
    });
    expect(seen.map((n) => n.outcome)).toEqual(['conflict', 'resolved']);
  });

  it('drops a change the server decided against without a new version', async () => {
    const server = new FakeConcord();
    const a = clientOf(server, memoryStore(), 'a');
    const b = clientOf(server, memoryStore(), 'b');
    await a.change({ aggregateType: 'task', aggregateId: 't1', type: 'TaskCreated', data: { title: 'a' } });
    await a.sync();
    await b.sync();
    await a.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'from a' },
    });
    const lost = await b.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'from b' },
    });
    await a.sync();
    await b.sync();
    expect((await b.get('task', 't1'))?.fields).toEqual({ title: 'from b' });
    server.decide(lost.id, 'resolved', undefined);
    const result = await b.sync();
    expect(result.outcomes).toEqual([expect.objectContaining({ id: lost.id, outcome: 'resolved' })]);
    expect(await b.get('task', 't1')).toMatchObject({ version: 2, fields: { title: 'from a' }, pending: 0 });
  });

  it('a rejected change is dropped and reported', async () => {
    const server = new FakeConcord();
    const rejected: OutcomeNotice[] = [];
    // A base version ahead of the aggregate (a store that saw another server's state) is rejected.
    const store = memoryStore();
    await store.write({
      putAggregates: [{ aggregateType: 'task', aggregateId: 't9', version: 5, fields: {} }],
    });
    const ahead = clientOf(server, store);
    ahead.on('rejected', (n) => rejected.push(n));
    const change = await ahead.change({
      aggregateType: 'task',
      aggregateId: 't9',
      type: 'TaskUpdated',
      data: { title: 'x' },
    });
    const result = await ahead.sync();
    expect(result.outcomes).toEqual([expect.objectContaining({ id: change.id, outcome: 'rejected' })]);
    expect(rejected.map((n) => n.id)).toEqual([change.id]);
    expect(await ahead.pending()).toEqual([]);
  });

  it('reports a push-back with its Retry-After, and status while syncing and offline', async () => {
    const server = new FakeConcord();
    const client = clientOf(server);
    const statuses: ClientStatus[] = [];
    client.on('status', (s) => statuses.push(s));
    await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a' },
    });
    server.pushBack = { status: 429, retryAfter: '3', times: 1 };
    await expect(client.sync()).rejects.toMatchObject({
      code: 'CONCORD_CLIENT_PUSHED_BACK',
      status: 429,
      serverCode: 'CONCORD_OVERLOADED',
      retryAfterMs: 3000,
    });
    server.offline = true;
    await expect(client.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_OFFLINE' });
    expect(client.status()).toEqual({ online: false, syncing: false, pending: 1, streaming: false });
    server.offline = false;
    await client.sync();
    expect(client.status()).toEqual({ online: true, syncing: false, pending: 0, streaming: false });
    expect(statuses).toContainEqual({ online: false, syncing: true, pending: 1, streaming: false });
    expect(statuses.at(-1)).toEqual({ online: true, syncing: false, pending: 0, streaming: false });
  });

  it('halves a batch the server finds too large', async () => {
    const server = new FakeConcord();
    const client = createClient({
      url: URL_,
      store: memoryStore(),
      origin: 'o',
      fetch: server.fetch,
      batchSize: 4,
    });
    for (let i = 0; i < 4; i++) {
      await client.change({ aggregateType: 'task', aggregateId: `t${i}`, type: 'TaskCreated', data: { i } });
    }
    server.pushBack = { status: 413, times: 1 };
    const result = await client.sync();
    expect(result.pushed.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied', 'applied']);
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(3);
  });

  it('refuses invalid changes and a closed client', async () => {
    const client = clientOf(new FakeConcord());
    await expect(
      client.change({ aggregateType: '', aggregateId: 'x', type: 'T', data: {} }),
    ).rejects.toMatchObject({ code: 'CONCORD_CLIENT_INVALID' });
    await expect(
      client.change({ aggregateType: 'task', aggregateId: 'x', type: 'T', data: [] as never }),
    ).rejects.toMatchObject({ code: 'CONCORD_CLIENT_INVALID' });
    expect(() => createClient({ url: URL_, store: memoryStore(), origin: '' })).toThrow(/origin/);
    await client.close();
    await expect(client.sync()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_CLOSED' });
  });

  it('keeps HLC stamps increasing across a restart, even when the wall clock steps back', async () => {
    const store = memoryStore();
    const server = new FakeConcord();
    const first = createClient({ url: URL_, store, origin: 'o', fetch: server.fetch, now: () => 5_000 });
    const a = await first.change({ aggregateType: 't', aggregateId: '1', type: 'T', data: {} });
    const second = createClient({ url: URL_, store, origin: 'o', fetch: server.fetch, now: () => 1_000 });
    const b = await second.change({ aggregateType: 't', aggregateId: '1', type: 'T', data: {} });
    expect(a.hlc).toBe('000000000005000-000000-o');
    expect(b.hlc).toBe('000000000005000-000001-o');
  });

  it('sends the bearer token on every request, a function asked each time', async () => {
    const server = new FakeConcord();
    let n = 0;
    const client = createClient({
      url: URL_,
      store: memoryStore(),
      origin: 'o',
      fetch: server.fetch,
      token: () => `t${++n}`,
    });
    await client.change({ aggregateType: 'task', aggregateId: 't1', type: 'TaskCreated', data: {} });
    await client.sync();
    expect(server.requests.map((r) => r.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('autosync polls when there is no stream, and backs off while offline', async () => {
    const server = new FakeConcord();
    const client = createClient({
      url: URL_,
      store: memoryStore(),
      origin: 'o',
      fetch: server.fetch,
      autosync: { pollIntervalMs: 10, backoffInitialMs: 400, backoffMaxMs: 400, random: () => 0.99 },
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.start();
    await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskCreated',
      data: { title: 'a' },
    });
    await eventually(async () => ((await client.get('task', 't1'))?.version === 1 ? true : undefined));
    // The fake has no stream (404): polling took over.
    expect(client.status().streaming).toBe(false);
    server.offline = true;
    await eventually(() => (errors.includes('CONCORD_CLIENT_OFFLINE') ? true : undefined));
    const syncRequests = () => server.requests.filter((r) => !r.path.startsWith('/v1/stream')).length;
    const failedAt = syncRequests();
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Backing off (~396 ms): no sync request in the meantime, though polling would have made several.
    expect(syncRequests()).toBe(failedAt);
    server.offline = false;
    await client.change({
      aggregateType: 'task',
      aggregateId: 't1',
      type: 'TaskUpdated',
      data: { title: 'b' },
    });
    await eventually(async () => ((await client.get('task', 't1'))?.version === 2 ? true : undefined));
    await client.stop();
    const stopped = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests.length).toBe(stopped);
  });
});
