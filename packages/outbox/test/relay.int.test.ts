import { createMemoryBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { ConcordError } from '@concord/core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import type { Relay } from '../src/index.js';
import { createTestDatabase, faultyBus } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { consoleLogger } from './support/console-logger.js';
import { collect, keyOrderViolations, readText, text, unique, waitFor, writeMessages } from './helpers.js';

let t: TestDatabase;
const outbox = createOutbox();
const open: { close(): Promise<void> }[] = [];
const track = <T extends { close(): Promise<void> }>(x: T): T => {
  open.push(x);
  return x;
};

beforeAll(async () => {
  t = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
});
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
  await t.db.query('DELETE FROM concord.outbox');
  await t.db.query('DELETE FROM concord.outbox_dead_letters');
});
afterAll(() => t.close());

const relay = (bus: MessageBus, options: Partial<Parameters<typeof createRelay>[0]> = {}): Relay => {
  const r = track(
    createRelay({
      db: t.db,
      bus,
      leaseTtlMs: 1500,
      pollIntervalMs: 200,
      ...(process.env.DEBUG_RELAY ? { logger: consoleLogger() } : {}),
      ...options,
    }),
  );
  r.start();
  return r;
};

describe('relay', () => {
  it('publishes committed rows with their headers, message id and key, then marks them', async () => {
    const bus = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const ids = await t.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic, key: 'a', payload: text('a:1'), headers: { 'correlation-id': 'c1' } },
        { topic, key: 'b', payload: text('b:1'), id: 'fixed-id' },
      ]),
    );
    relay(bus);
    await waitFor('two messages', () => received.length === 2);
    expect(received.map((m) => m.id)).toEqual(ids);
    expect(ids[1]).toBe('fixed-id');
    expect(received[0]?.headers).toMatchObject({ 'correlation-id': 'c1', 'message-id': ids[0] });
    expect(received.map((m) => [m.key, readText(m.payload)])).toEqual([
      ['a', 'a:1'],
      ['b', 'b:1'],
    ]);
    await waitFor('rows marked', async () => {
      const { rows } = await t.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
      return rows[0]?.pending === 0;
    });
  });

  it('relays a transaction opened before others and committed after them, in commit-safe order', async () => {
    const bus = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const r = relay(bus);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const early = t.db.withTransaction(async (tx) => {
      await outbox.add(tx, [{ topic, key: 'early', payload: text('early:1') }]);
      await held;
    });
    await waitFor('early row inserted', async () => {
      const { rows } = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`,
      );
      return rows[0]?.n === 1;
    });
    try {
      await writeMessages({ db: t.db, outbox, topic, count: 50, keys: 5 });
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

  it('dead-letters a poison row after maxAttempts with its error history while other keys flow', async () => {
    const memory = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    const { received: dlq } = await collect(memory, [`${topic}.dlq`]);
    const poison = new ConcordError('CONCORD_TEST_POISON', 'broker refused it', { retryable: true });
    const bus = faultyBus(memory, {
      failWhen: (to, m) => (to === topic && readText(m.payload) === 'bad:2' ? poison : undefined),
    });
    await writeMessages({ db: t.db, outbox, topic, count: 200, keys: 10, keyPrefix: 'k' });
    await t.db.withTransaction((tx) =>
      outbox.add(
        tx,
        [1, 2, 3].map((n) => ({ topic, key: 'bad', payload: text(`bad:${n}`) })),
      ),
    );
    const r = relay(bus, { maxAttempts: 3, backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    await waitFor('good keys and the rest of bad', () => received.length === 202);
    await waitFor('dead letter', () => dlq.length === 1);
    expect(readText(received.at(-1)?.payload ?? new Uint8Array())).toBe('bad:3');
    expect(dlq[0]?.headers).toMatchObject({
      'x-concord-error-code': 'CONCORD_TEST_POISON',
      'x-concord-attempts': '3',
      'x-concord-original-topic': topic,
    });
    const { rows } = await t.db.query<{ attempts: number; errors: { code: string; attempt: number }[] }>(
      'SELECT attempts, errors FROM concord.outbox_dead_letters',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.attempts).toBe(3);
    expect(rows[0]?.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    const stats = await r.stats();
    expect(stats).toMatchObject({ deadLettered: 1, failedAttempts: 2, pending: 0, deadLetterRows: 1 });
    expect(keyOrderViolations(received)).toEqual([]);
  });

  // Read size 16: the first read spans four publish batches; bad:1 fails in the first and bad:2 is in
  // the fourth, which must not go out.
  it.each([4, 16])(
    'keeps a retried key in order when its later rows sit on both sides of the read cursor (read size %i)',
    async (readSize) => {
      const memory = track(createMemoryBus());
      const topic = `t.${unique()}`;
      const { received } = await collect(memory, [topic]);
      // bad:1 fails its first attempt (the batch, then alone), then goes through.
      let failures = 0;
      const bus = faultyBus(memory, {
        failWhen: (_t, m) => {
          if (readText(m.payload) !== 'bad:1' || failures >= 2) return undefined;
          failures += 1;
          return new ConcordError('CONCORD_TEST_FLAKY', 'try again', { retryable: true });
        },
      });
      const row = (key: string, n: number) => ({ topic, key, payload: text(`${key}:${n}`) });
      await t.db.withTransaction((tx) =>
        outbox.add(tx, [
          row('bad', 1),
          ...Array.from({ length: 12 }, (_, i) => row(`g${i}`, 1)),
          row('bad', 2),
        ]),
      );
      await writeMessages({ db: t.db, outbox, topic, count: 24, keys: 12, keyPrefix: 'h' });
      // Small batches: the cursor moves past bad:2 while bad:1 waits for its retry.
      relay(bus, { batchSize: 4, readSize, backoff: { initialDelayMs: 1500, maxDelayMs: 1500 } });
      await waitFor('the other keys', () => received.length === 12 + 24);
      // A later row of the waiting key, committed after the cursor passed everything before it.
      await t.db.withTransaction((tx) => outbox.add(tx, [row('bad', 3)]));
      await waitFor('the retried key', () => received.length === 12 + 24 + 3, 10_000);
      expect(received.filter((m) => m.key === 'bad').map((m) => readText(m.payload))).toEqual([
        'bad:1',
        'bad:2',
        'bad:3',
      ]);
      expect(keyOrderViolations(received)).toEqual([]);
    },
  );

  it('keeps reading past a stale plan and settles the whole backlog', async () => {
    const bus = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    // Statistics say the outbox is empty; the read must still walk the pending index in order.
    await t.db.exec('ANALYZE concord.outbox');
    await writeMessages({ db: t.db, outbox, topic, count: 3_000, keys: 30 });
    const r = relay(bus, { batchSize: 200 });
    await waitFor('all delivered', () => received.length === 3_000);
    await waitFor('all marked', () => r.counters().published === 3_000);
    const { rows } = await t.db.query<{ n: number }>('SELECT pending AS n FROM concord.outbox_backlog()');
    expect(rows[0]?.n).toBe(0);
    expect(keyOrderViolations(received)).toEqual([]);
    expect(r.counters().lagMs.max).toBeGreaterThan(0);
  });

  it('dead-letters a non-retryable failure at once', async () => {
    const memory = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    const bus = faultyBus(memory, {
      failWhen: (_t, m) =>
        m.key === 'bad' ? new ConcordError('CONCORD_TEST_INVALID', 'no', { retryable: false }) : undefined,
    });
    await t.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic, key: 'bad', payload: text('bad:1') },
        { topic, key: 'good', payload: text('good:1') },
      ]),
    );
    const r = relay(bus, { maxAttempts: 5 });
    await waitFor('good delivered', () => received.length === 1);
    await waitFor('dead-lettered', async () => (await r.stats()).deadLetterRows === 1);
    expect((await r.stats()).failedAttempts).toBe(0);
  });

  it('backs off without counting attempts while the broker is unreachable, then resumes', async () => {
    const memory = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let down = true;
    const unavailable = new ConcordError('CONCORD_BUS_UNAVAILABLE', 'down', { retryable: true });
    const bus = faultyBus(memory, { failWhen: () => (down ? unavailable : undefined), ready: () => !down });
    await writeMessages({ db: t.db, outbox, topic, count: 300, keys: 7 });
    const r = relay(bus, { maxAttempts: 2, backoff: { initialDelayMs: 20, maxDelayMs: 100 } });
    await waitFor('outage seen', async () => (await r.stats()).brokerOutage);
    await new Promise((resolve) => setTimeout(resolve, 500));
    down = false;
    await waitFor('all delivered', () => received.length === 300);
    await waitFor('all marked', async () => (await r.stats()).published === 300);
    const stats = await r.stats();
    expect(stats).toMatchObject({
      deadLetterRows: 0,
      failedAttempts: 0,
      published: 300,
      brokerOutage: false,
    });
    expect(keyOrderViolations(received)).toEqual([]);
  });

  it('splits partitions between two relays and fences a stalled one off', async () => {
    const memory = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let stall: Promise<void> | undefined;
    let release: () => void = () => undefined;
    const stallingBus = faultyBus(memory, { beforePublish: () => stall ?? Promise.resolve() });
    const a = relay(stallingBus, { owner: 'relay-a', leaseTtlMs: 600 });
    await waitFor('a owns all', async () => (await a.stats()).partitions.length === 16);
    const b = relay(memory, { owner: 'relay-b', leaseTtlMs: 600 });
    await waitFor('split 8/8', async () => {
      const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
      return sa.partitions.length === 8 && sb.partitions.length === 8;
    });
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect(new Set([...sa.partitions, ...sb.partitions]).size).toBe(16);

    // Stall relay A inside a publish: it stops renewing, B takes its partitions over (fence + 1).
    stall = new Promise<void>((resolve) => (release = resolve));
    await writeMessages({ db: t.db, outbox, topic, count: 400, keys: 40 });
    await waitFor('b took every partition', async () => (await b.stats()).partitions.length === 16, 15_000);
    await waitFor('b published all', () => new Set(received.map((m) => m.id)).size === 400);
    stall = undefined;
    release();
    await waitFor('a noticed the fence', async () => (await a.stats()).partitions.length < 16);
    // Everything is settled, and by B alone: A's marks after it lost its leases settled nothing.
    const { rows } = await t.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
    expect(rows[0]?.pending).toBe(0);
    const aStats = await a.stats();
    expect(aStats.published).toBe(0);
    expect(aStats.fenced).toBeGreaterThan(0);
  });

  it('moves a watermark only under the current fence, only forwards, and never past a key waiting for a retry', async () => {
    await t.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic: 'w', key: 'k1', payload: text('1') },
        { topic: 'w', key: 'k1', payload: text('2') },
        { topic: 'w', key: 'k1', payload: text('3') },
      ]),
    );
    const { rows: written } = await t.db.query<{ id: string; tx_id: string; key_partition: number }>(
      'SELECT id::text, tx_id::text, key_partition FROM concord.outbox ORDER BY id',
    );
    const [first, second, third] = written;
    if (first === undefined || second === undefined || third === undefined) throw new Error('rows missing');
    const p = first.key_partition;
    await t.db.query(
      `UPDATE concord.outbox_leases SET owner = 'w', fence = fence + 1, expires_at = now() + interval '1 minute'
       WHERE key_partition = $1`,
      [p],
    );
    const fence = (
      await t.db.query<{ fence: string }>(
        'SELECT fence::text FROM concord.outbox_leases WHERE key_partition = $1',
        [p],
      )
    ).rows[0]?.fence;
    const mark = async (ids: string[], markFence: string, upto: { tx_id: string; id: string } | null) => {
      const { rows } = await t.db.query<{ marked: number; valid: number[] }>(
        'SELECT marked, valid FROM concord.outbox_mark_published($1::bigint[], $2::int[], $3::bigint[], $4, $5::text::xid8, $6::bigint)',
        [ids, [p], [markFence], 'w', upto?.tx_id ?? null, upto?.id ?? null],
      );
      return rows[0];
    };
    const watermark = async () =>
      (
        await t.db.query<{ id: string }>(
          'SELECT published_id::text AS id FROM concord.outbox_leases WHERE key_partition = $1',
          [p],
        )
      ).rows[0]?.id;
    const pending = async () =>
      (await t.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()')).rows[0]
        ?.pending;
    try {
      const before = await watermark();
      // A stale fence settles nothing.
      expect(await mark([first.id], String(BigInt(fence ?? '0') - 1n), first)).toEqual({
        marked: 0,
        valid: [],
      });
      expect(await watermark()).toBe(before);
      // The current fence moves the watermark; a lower position later does not move it back.
      expect(await mark([first.id, second.id], fence ?? '', second)).toEqual({ marked: 0, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await mark([first.id], fence ?? '', first)).toEqual({ marked: 0, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await pending()).toBe(1);
      // A row of the partition waits for a retry: the watermark stays, rows are marked one by one.
      await t.db.query(
        `UPDATE concord.outbox SET next_attempt_at = now() + interval '1 hour' WHERE id = $1`,
        [third.id],
      );
      await t.db.withTransaction((tx) => outbox.add(tx, [{ topic: 'w', key: 'k1', payload: text('4') }]));
      const fourth = (
        await t.db.query<{ id: string; tx_id: string }>(
          'SELECT id::text, tx_id::text FROM concord.outbox ORDER BY id DESC LIMIT 1',
        )
      ).rows[0];
      if (fourth === undefined) throw new Error('row missing');
      expect(await mark([fourth.id], fence ?? '', fourth)).toEqual({ marked: 1, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await pending()).toBe(1);
      // Once the waiting row itself goes through, the watermark moves past it.
      expect(await mark([third.id], fence ?? '', fourth)).toEqual({ marked: 0, valid: [p] });
      expect(await watermark()).toBe(fourth.id);
      expect(await pending()).toBe(0);
    } finally {
      await t.db.query(
        `UPDATE concord.outbox_leases SET owner = NULL, expires_at = '-infinity' WHERE key_partition = $1`,
        [p],
      );
    }
  });

  it('moves the watermarks of partitions that get no rows up to what the reads have seen', async () => {
    const bus = track(createMemoryBus());
    // Another (live) relay holds every partition but 0; this relay gets partition 0 alone.
    await t.db.query(
      `UPDATE concord.outbox_leases SET owner = 'elsewhere', expires_at = now() + interval '1 hour'
       WHERE key_partition <> 0`,
    );
    try {
      const r = relay(bus);
      await waitFor('partition 0', async () => (await r.stats()).partitions.join() === '0');
      const { rows: keys } = await t.db.query<{ key: string }>(
        `SELECT k AS key FROM (SELECT 'q' || n AS k FROM generate_series(1, 50) n) keys
         WHERE (hashtextextended(k, 0) & 2147483647) % 16 <> 0`,
      );
      await t.db.withTransaction((tx) =>
        outbox.add(
          tx,
          keys.map(({ key }) => ({ topic: 'elsewhere', key, payload: text(key) })),
        ),
      );
      const last = (await t.db.query<{ id: string }>('SELECT max(id)::text AS id FROM concord.outbox'))
        .rows[0]?.id;
      await waitFor('watermark of partition 0 moved', async () => {
        const { rows } = await t.db.query<{ id: string }>(
          'SELECT published_id::text AS id FROM concord.outbox_leases WHERE key_partition = 0',
        );
        return BigInt(rows[0]?.id ?? '0') >= BigInt(last ?? '1');
      });
    } finally {
      await t.db.query(
        `UPDATE concord.outbox_leases SET owner = NULL, expires_at = '-infinity' WHERE owner = 'elsewhere'`,
      );
    }
  });

  it('wakes on NOTIFY well before the polling interval', async () => {
    const bus = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    const r = relay(bus, { pollIntervalMs: 60_000 });
    await waitFor('leases', async () => (await r.stats()).partitions.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await t.db.withTransaction((tx) => outbox.add(tx, [{ topic, key: 'n', payload: text('n:1') }]));
    await waitFor('notified delivery', () => received.length === 1, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('deletes published rows after the retention period', async () => {
    const bus = track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    await writeMessages({ db: t.db, outbox, topic, count: 20, keys: 2 });
    relay(bus, { retentionMs: 0, cleanupIntervalMs: 50 });
    await waitFor('delivered', () => received.length === 20);
    await waitFor('cleaned', async () => {
      const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM concord.outbox');
      return rows[0]?.n === 0;
    });
  });

  it('close() is idempotent and gives partitions back', async () => {
    const bus = track(createMemoryBus());
    const r = createRelay({ db: t.db, bus, leaseTtlMs: 60_000 });
    r.start();
    await waitFor('leases', async () => (await r.stats()).partitions.length === 16);
    await Promise.all([r.close(), r.close()]);
    await r.close();
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM concord.outbox_leases WHERE owner IS NOT NULL',
    );
    expect(rows[0]?.n).toBe(0);
  });
});
