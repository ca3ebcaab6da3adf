import { createMemoryBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { ConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
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

/**
 * The bus, except that the message with this payload fails retryably its first attempt: the batch
 * holding it, then its key's retry alone.
 */
const failingFirst = (bus: MessageBus, payload: string): MessageBus => {
  let failures = 0;
  return faultyBus(bus, {
    failWhen: (_topic, m) => {
      if (readText(m.payload) !== payload || failures >= 2) return undefined;
      failures += 1;
      return new ConcordError('CONCORD_TEST_FLAKY', 'try again', { retryable: true });
    },
  });
};

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

  it('dead-letters a poison row after maxAttempts with its error history while other keys flow', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    const { received: dlq } = await collect(memory, [`${topic}.dlq`]);
    const poison = new ConcordError('CONCORD_TEST_POISON', 'broker refused it', { retryable: true });
    const bus = faultyBus(memory, {
      failWhen: (to, m) => (to === topic && readText(m.payload) === 'bad:2' ? poison : undefined),
    });
    await writeMessages({ db: h.db, outbox, topic, count: 200, keys: 10, keyPrefix: 'k' });
    await h.db.withTransaction((tx) =>
      outbox.add(
        tx,
        [1, 2, 3].map((n) => ({ topic, key: 'bad', payload: text(`bad:${n}`) })),
      ),
    );
    const r = h.relay(bus, { maxAttempts: 3, backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    // Other keys keep flowing: a failure counts as an attempt only when the broker takes other messages
    // meanwhile (a key failing alone is an outage).
    let flowed = 0;
    const flowing = (async () => {
      while (dlq.length === 0) {
        flowed += 1;
        await h.db.withTransaction((tx) =>
          outbox.add(tx, [{ topic, key: 'flow', payload: text(`flow:${flowed}`) }]),
        );
        await delay(10);
      }
    })();
    await waitFor('dead letter', () => dlq.length === 1);
    await flowing;
    await waitFor('good keys and the rest of bad', () => received.length === 202 + flowed);
    expect(received.filter((m) => m.key === 'bad').map((m) => readText(m.payload))).toEqual([
      'bad:1',
      'bad:3',
    ]);
    expect(dlq[0]?.headers).toMatchObject({
      'x-concord-error-code': 'CONCORD_TEST_POISON',
      'x-concord-attempts': '3',
      'x-concord-original-topic': topic,
    });
    const { rows } = await h.db.query<{ attempts: number; errors: { code: string; attempt: number }[] }>(
      'SELECT attempts, errors FROM concord.outbox_dead_letters',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.attempts).toBe(3);
    expect(rows[0]?.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    // bad:3 is received before the relay marks it.
    await waitFor('every row settled', async () => (await r.stats()).pending === 0);
    const stats = await r.stats();
    expect(stats).toMatchObject({ deadLettered: 1, failedAttempts: 2, pending: 0, deadLetterRows: 1 });
    expect(keyOrderViolations(received)).toEqual([]);
  });

  // Read size 16: the first read spans four publish batches; bad:1 fails in the first and bad:2 is in
  // the fourth, which must not go out.
  it.each([4, 16])(
    'keeps a retried key in order when its later rows sit on both sides of the read cursor (read size %i)',
    async (readSize) => {
      const memory = h.track(createMemoryBus());
      const topic = `t.${unique()}`;
      const { received } = await collect(memory, [topic]);
      // bad:1 fails its first attempt (the batch, then alone), then goes through.
      const bus = failingFirst(memory, 'bad:1');
      const row = (key: string, n: number) => ({ topic, key, payload: text(`${key}:${n}`) });
      await h.db.withTransaction((tx) =>
        outbox.add(tx, [
          row('bad', 1),
          ...Array.from({ length: 12 }, (_, i) => row(`g${i}`, 1)),
          row('bad', 2),
        ]),
      );
      await writeMessages({ db: h.db, outbox, topic, count: 24, keys: 12, keyPrefix: 'h' });
      // Small batches: the cursor moves past bad:2 while bad:1 waits for its retry.
      h.relay(bus, { batchSize: 4, readSize, backoff: { initialDelayMs: 1500, maxDelayMs: 1500 } });
      await waitFor('the other keys', () => received.length === 12 + 24);
      // A later row of the waiting key, committed after the cursor passed everything before it.
      await h.db.withTransaction((tx) => outbox.add(tx, [row('bad', 3)]));
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

  it('dead-letters a non-retryable failure at once', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    const bus = faultyBus(memory, {
      failWhen: (_t, m) =>
        m.key === 'bad' ? new ConcordError('CONCORD_TEST_INVALID', 'no', { retryable: false }) : undefined,
    });
    await h.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic, key: 'bad', payload: text('bad:1') },
        { topic, key: 'good', payload: text('good:1') },
      ]),
    );
    const r = h.relay(bus, { maxAttempts: 5 });
    await waitFor('good delivered', () => received.length === 1);
    await waitFor('dead-lettered', async () => (await r.stats()).deadLetterRows === 1);
    expect((await r.stats()).failedAttempts).toBe(0);
  });

  it('backs off without counting attempts while the broker is unreachable, then resumes', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let down = true;
    const unavailable = new ConcordError('CONCORD_BUS_UNAVAILABLE', 'down', { retryable: true });
    const bus = faultyBus(memory, { failWhen: () => (down ? unavailable : undefined), ready: () => !down });
    await writeMessages({ db: h.db, outbox, topic, count: 300, keys: 7 });
    const r = h.relay(bus, { maxAttempts: 2, backoff: { initialDelayMs: 20, maxDelayMs: 100 } });
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

  it('counts no attempts while the broker refuses everything yet reports ready, even one key per topic', async () => {
    const memory = h.track(createMemoryBus());
    const [applied, outcome] = [`t.${unique()}`, `t.${unique()}`];
    const { received } = await collect(memory, [applied, outcome]);
    let down = true;
    const unconfirmed = new ConcordError('CONCORD_BUS_UNAVAILABLE', 'not confirmed', { retryable: true });
    const bus = faultyBus(memory, { failWhen: () => (down ? unconfirmed : undefined) });
    // What one submitted event writes: a row on each of two topics, each with a key of its own.
    await h.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic: applied, key: 'task-1', payload: text('task-1:1') },
        { topic: outcome, key: 'event-1', payload: text('event-1:1') },
      ]),
    );
    const r = h.relay(bus, { maxAttempts: 2, backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    await waitFor('outage seen', async () => (await r.stats()).brokerOutage);
    await delay(500);
    expect(await r.stats()).toMatchObject({ failedAttempts: 0, deadLetterRows: 0, pending: 2 });
    down = false;
    await waitFor('both delivered', () => received.length === 2);
    await waitFor('both marked', async () => (await r.stats()).pending === 0);
    expect(await r.stats()).toMatchObject({ failedAttempts: 0, deadLetterRows: 0 });
  });

  it('keeps a dead letter in the outbox until <topic>.dlq takes it', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received: dlq } = await collect(memory, [`${topic}.dlq`]);
    let refused = 0;
    const bus = faultyBus(memory, {
      failWhen: (to) => {
        if (to === topic) return new ConcordError('CONCORD_TEST_INVALID', 'no', { retryable: false });
        if (refused >= 2) return undefined;
        refused += 1;
        return new ConcordError('CONCORD_BUS_UNAVAILABLE', 'not now', { retryable: true });
      },
    });
    await h.db.withTransaction((tx) => outbox.add(tx, [{ topic, key: 'bad', payload: text('bad:1') }]));
    const r = h.relay(bus, { backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    await waitFor('dead letter published', () => dlq.length === 1);
    await waitFor('dead-lettered', async () => (await r.stats()).deadLetterRows === 1);
    expect(refused).toBe(2);
    expect(await r.stats()).toMatchObject({ deadLettered: 1, pending: 0 });
    const { rows } = await h.db.query<{ attempts: number }>(
      'SELECT attempts FROM concord.outbox_dead_letters',
    );
    expect(rows.map((row) => row.attempts)).toEqual([3]);
  });

  it('settles a row that went through on its retry: its partition moves on, nothing is published twice', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    // a:1 fails once (in the batch, then alone) while b:1 goes through: one counted attempt.
    const bus = failingFirst(memory, 'a:1');
    await h.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic, key: 'a', payload: text('a:1') },
        { topic, key: 'b', payload: text('b:1') },
      ]),
    );
    const r = h.relay(bus, { batchSize: 50, readSize: 100, backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    await waitFor('a:1 on its retry', () => received.some((m) => readText(m.payload) === 'a:1'));
    await waitFor('no row left waiting for a retry', async () => {
      const { rows } = await h.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM concord.outbox WHERE published_at IS NULL AND next_attempt_at IS NOT NULL',
      );
      return rows[0]?.n === 0;
    });
    // Full reads, each read ahead starting after the one before (not back at a watermark held up).
    await writeMessages({ db: h.db, outbox, topic, count: 2_000, keys: 40 });
    await waitFor('all marked', async () => (await r.stats()).pending === 0);
    expect(received).toHaveLength(2_002);
    expect(new Set(received.map((m) => m.id)).size).toBe(2_002);
    expect((await r.stats()).failedAttempts).toBe(1);
  });

  it('splits partitions between two relays and fences a stalled one off', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let stall: Promise<void> | undefined;
    let release: () => void = () => undefined;
    const stallingBus = faultyBus(memory, { beforePublish: () => stall ?? Promise.resolve() });
    const a = h.relay(stallingBus, { owner: 'relay-a', leaseTtlMs: 600 });
    await waitFor('a owns all', async () => (await a.stats()).partitions.length === 16);
    const b = h.relay(memory, { owner: 'relay-b', leaseTtlMs: 600 });
    await waitFor('split 8/8', async () => {
      const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
      return sa.partitions.length === 8 && sb.partitions.length === 8;
    });
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect(new Set([...sa.partitions, ...sb.partitions]).size).toBe(16);

    // Stall relay A inside a publish: it stops renewing, B takes its partitions over (fence + 1).
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
