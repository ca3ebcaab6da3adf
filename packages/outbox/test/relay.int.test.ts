/**
 * The relay publishing: headers, ids and marks, commit-safe order past late commits, a large backlog,
 * partitions shared by two relays with fencing, waking on NOTIFY, and closing. Failures are in
 * relay-failures.int.test.ts.
 */
import { createMemoryBus } from '@concord/bus';
import { describe, expect, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import type { Database } from '../src/index.js';
import { faultyBus } from '../src/testing/index.js';
import {
  collect,
  delay,
  keyOrderViolations,
  readText,
  text,
  unique,
  waitFor,
  writeMessages,
} from './helpers.js';
import { useRelayHarness } from './support/relay-harness.js';

const h = useRelayHarness();
const outbox = createOutbox();

describe('relay', () => {
  it('publishes committed rows with their headers, message id and key, then marks them', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const ids = await h.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic, key: 'a', payload: text('a:1'), headers: { 'correlation-id': 'c1' } },
        { topic, key: 'b', payload: text('b:1'), id: 'fixed-id' },
      ]),
    );
    h.relay(bus);
    await waitFor('two messages', () => received.length === 2);
    expect(received.map((m) => m.id)).toEqual(ids);
    expect(ids[1]).toBe('fixed-id');
    expect(received[0]?.headers).toMatchObject({ 'correlation-id': 'c1', 'message-id': ids[0] });
    expect(received.map((m) => [m.key, readText(m.payload)])).toEqual([
      ['a', 'a:1'],
      ['b', 'b:1'],
    ]);
    await waitFor('rows marked', async () => {
      const { rows } = await h.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
      return rows[0]?.pending === 0;
    });
  });

  it('relays a transaction opened before others and committed after them, in commit-safe order', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const r = h.relay(bus);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const early = h.db.withTransaction(async (tx) => {
      await outbox.add(tx, [{ topic, key: 'early', payload: text('early:1') }]);
      await held;
    });
    await waitFor('early row inserted', async () => {
      const { rows } = await h.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`,
      );
      return rows[0]?.n === 1;
    });
    try {
      await writeMessages({ db: h.db, outbox, topic, count: 50, keys: 5 });
      // Later commits wait above the open transaction's xid: nothing is published past it.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(received).toHaveLength(0);
      expect((await r.stats()).pending).toBe(50);
    } finally {
      release();
      await early;
    }
    await waitFor('all 51', () => received.length === 51);
    expect(readText(received[0]?.payload ?? new Uint8Array())).toBe('early:1');
    expect(keyOrderViolations(received)).toEqual([]);
  });

  it('keeps reading past a stale plan and settles the whole backlog', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    // Statistics say the outbox is empty; the read must still walk the pending index in order.
    await h.db.exec('ANALYZE concord.outbox');
    await writeMessages({ db: h.db, outbox, topic, count: 3_000, keys: 30 });
    const r = h.relay(bus, { batchSize: 200 });
    await waitFor('all delivered', () => received.length === 3_000);
    await waitFor('all marked', () => r.counters().published === 3_000);
    const { rows } = await h.db.query<{ n: number }>('SELECT pending AS n FROM concord.outbox_backlog()');
    expect(rows[0]?.n).toBe(0);
    expect(keyOrderViolations(received)).toEqual([]);
    expect(r.counters().lagMs.max).toBeGreaterThan(0);
  });

  it('splits partitions between two relays and fences a stalled one off', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let stall: Promise<void> | undefined;
    let release: () => void = () => undefined;
    const stallingBus = faultyBus(memory, { beforePublish: () => stall ?? Promise.resolve() });
    // A publish that does not come back within stallTimeoutMs stops A's renewals.
    const a = h.relay(stallingBus, { owner: 'relay-a', leaseTtlMs: 600, stallTimeoutMs: 1_000 });
    await waitFor('a owns all', async () => (await a.stats()).partitions.length === 16);
    const b = h.relay(memory, { owner: 'relay-b', leaseTtlMs: 600 });
    await waitFor('split 8/8', async () => {
      const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
      return sa.partitions.length === 8 && sb.partitions.length === 8;
    });
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect(new Set([...sa.partitions, ...sb.partitions]).size).toBe(16);

    // Stall relay A inside a publish: after stallTimeoutMs it stops renewing, B takes its partitions
    // over (fence + 1).
    stall = new Promise<void>((resolve) => (release = resolve));
    await writeMessages({ db: h.db, outbox, topic, count: 400, keys: 40 });
    await waitFor('b took every partition', async () => (await b.stats()).partitions.length === 16, 15_000);
    await waitFor('b published all', () => new Set(received.map((m) => m.id)).size === 400);
    stall = undefined;
    release();
    // A's stalled publish goes through now, and its mark finds the fences moved on.
    await waitFor('a was fenced off', async () => (await a.stats()).fenced > 0);
    // Everything is settled, and by B alone: A's marks after it lost its leases settled nothing.
    const { rows } = await h.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
    expect(rows[0]?.pending).toBe(0);
    const aStats = await a.stats();
    expect(aStats.published).toBe(0);
    expect(aStats.partitions.length).toBeLessThan(16);
  });

  it('keeps its leases through a pass slowed far past the lease TTL: never fenced, each row published once', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let slow = false;
    // Every publish call of A takes 150 ms once slowed: a read of 100 rows (4 batches) outlives the
    // 400 ms TTL, and the pass that publishes A's share of the backlog outlives it many times over.
    const slowBus = faultyBus(memory, { beforePublish: () => (slow ? delay(150) : Promise.resolve()) });
    const options = { leaseTtlMs: 400, batchSize: 25, readSize: 100 };
    const a = h.relay(slowBus, { owner: 'relay-a', ...options });
    await waitFor('a owns all', async () => (await a.stats()).partitions.length === 16);
    // B would take over any partition whose lease expires, and whichever relay marks first fences the other.
    const b = h.relay(memory, { owner: 'relay-b', ...options });
    await waitFor('split 8/8', async () => {
      const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
      return sa.partitions.length === 8 && sb.partitions.length === 8;
    });
    slow = true;
    await writeMessages({ db: h.db, outbox, topic, count: 1_000, keys: 100 });
    await waitFor('all settled', async () => {
      const { rows } = await h.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
      return rows[0]?.pending === 0;
    });
    const { rows: leases } = await h.db.query<{ owner: string; n: number }>(
      'SELECT owner, count(*)::int AS n FROM concord.outbox_leases GROUP BY owner ORDER BY owner',
    );
    expect(leases).toEqual([
      { owner: 'relay-a', n: 8 },
      { owner: 'relay-b', n: 8 },
    ]);
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect({ a: sa.fenced, b: sb.fenced }).toEqual({ a: 0, b: 0 });
    expect(sa.partitions).toHaveLength(8);
    expect(sa.published + sb.published).toBe(1_000);
    expect(sa.published).toBeGreaterThan(300);
    expect(received).toHaveLength(1_000);
    expect(new Set(received.map((m) => m.id)).size).toBe(1_000);
    expect(keyOrderViolations(received)).toEqual([]);
  });

  it('stops publishing before its leases run out when it cannot renew them', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    const ttl = 600;
    const publishes: number[] = [];
    const slowBus = faultyBus(memory, {
      beforePublish: async () => {
        publishes.push(Date.now());
        await delay(50);
      },
    });
    // From `cutAt` on, every lease statement of the relay fails (the rows' reads and marks still work).
    let cutAt: number | undefined;
    const base = h.db;
    const db: Database = {
      kind: base.kind,
      query: (sql, params, options) =>
        cutAt !== undefined && sql.includes('outbox_leases l SET expires_at')
          ? Promise.reject(new Error('renewal refused'))
          : base.query(sql, params, options),
      exec: (sql) => base.exec(sql),
      withTransaction: (fn) => base.withTransaction(fn),
      listen: (options) => base.listen(options),
      close: () => Promise.resolve(),
    };
    // A read is 20 batches (1 s): without the check, a pass publishes it whole, leases or not.
    const r = h.relay(slowBus, { db, leaseTtlMs: ttl, batchSize: 10, readSize: 200 });
    await waitFor('leases', async () => (await r.stats()).partitions.length === 16);
    await writeMessages({ db: h.db, outbox, topic, count: 600, keys: 50 });
    await waitFor('publishing', () => received.length > 0);
    const cut = Date.now();
    cutAt = cut;
    await delay(2 * ttl);
    // No batch began later than the leases could last: renewed last before the cut, for one TTL.
    expect(publishes.filter((at) => at > cut + ttl)).toEqual([]);
    expect(received.length).toBeLessThan(600);
    cutAt = undefined;
    await waitFor('the rest once renewals work again', () => new Set(received.map((m) => m.id)).size === 600);
    expect(keyOrderViolations(received)).toEqual([]);
  });

  it('wakes on NOTIFY well before the polling interval', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const r = h.relay(bus, { pollIntervalMs: 60_000 });
    await waitFor('leases', async () => (await r.stats()).partitions.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await h.db.withTransaction((tx) => outbox.add(tx, [{ topic, key: 'n', payload: text('n:1') }]));
    await waitFor('notified delivery', () => received.length === 1, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('publishes a row held up by an older transaction soon after that transaction ends', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    // No poll and no lease maintenance for a minute: only the relay's own look-again can find the row.
    const r = h.relay(bus, { pollIntervalMs: 60_000, leaseTtlMs: 60_000 });
    await waitFor('leases', async () => (await r.stats()).partitions.length > 0);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // An older transaction with an id but no outbox rows: its end sends no NOTIFY.
    const older = h.db.withTransaction(async (tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      await held;
    });
    try {
      await waitFor('older transaction open', async () => {
        const { rows } = await h.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`,
        );
        return rows[0]?.n === 1;
      });
      await h.db.withTransaction((tx) => outbox.add(tx, [{ topic, key: 'w', payload: text('w:1') }]));
      // Its NOTIFY wakes the relay, which finds the row above the snapshot xmin and keeps looking.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(received).toHaveLength(0);
    } finally {
      release();
      await older;
    }
    const ended = Date.now();
    await waitFor('the held-up row', () => received.length === 1, 5_000);
    expect(Date.now() - ended).toBeLessThan(300);
  });

  it('close() is idempotent and gives partitions back', async () => {
    const bus = h.track(createMemoryBus());
    const r = createRelay({ db: h.db, bus, leaseTtlMs: 60_000 });
    r.start();
    await waitFor('leases', async () => (await r.stats()).partitions.length === 16);
    await Promise.all([r.close(), r.close()]);
    await r.close();
    const { rows } = await h.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM concord.outbox_leases WHERE owner IS NOT NULL',
    );
    expect(rows[0]?.n).toBe(0);
  });
});
