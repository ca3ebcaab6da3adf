/**
 * The relay when the broker does not take a row: retries with backoff while other keys flow, per-key
 * order around a retried key, dead letters (to the table and `<topic>.dlq`), and outages, in which no
 * row's attempts count.
 */
import { createMemoryBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { ConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { createOutbox } from '../src/index.js';
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

describe('relay failures', () => {
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
});
