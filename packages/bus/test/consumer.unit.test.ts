import { backoffDelay, ConcordError, silentLogger } from '@concord/core';
import { DLQ_HEADERS } from '@concord/bus';
import { deadLetterMessage } from '../src/consumer/dead-letter.js';
import { KeyedDispatcher } from '../src/consumer/keyed-dispatcher.js';
import { ConsumerPipeline } from '../src/consumer/pipeline.js';
import type { IncomingMessage, Timers } from '@concord/bus';
import type { DeadLetterCause } from '../src/consumer/dead-letter.js';
import { describe, expect, it } from 'vitest';
import { resolveRetry, retryBackoff } from '../src/consumer/backoff.js';

const incoming = (id: string, key: string): IncomingMessage => ({
  id,
  key,
  topic: 't',
  payload: new Uint8Array(),
  headers: { traceparent: 'tp' },
  attempt: 1,
});

/** Timers that fire on the next microtask and remember the delays asked for. */
const instantTimers = (delays: number[]): Timers => ({
  setTimeout: (callback, ms) => {
    delays.push(ms);
    queueMicrotask(callback);
    return 0;
  },
  clearTimeout: () => undefined,
});

describe('backoff', () => {
  it('doubles the ceiling per attempt, caps it, and applies full jitter', () => {
    const backoff = retryBackoff(resolveRetry({ initialDelayMs: 100, maxDelayMs: 1_000 }));
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, backoff, () => 0.999))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelay(3, backoff, () => 0)).toBe(0);
    expect(backoffDelay(3, backoff, () => 0.5)).toBe(200);
  });

  it('rejects nonsense options', () => {
    expect(() => resolveRetry({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => resolveRetry({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(/delays/);
  });
});

describe('KeyedDispatcher', () => {
  it('runs one task per key at a time, in order, and several keys at once', async () => {
    const dispatcher = new KeyedDispatcher(3);
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    for (let n = 0; n < 5; n += 1) {
      for (const key of ['a', 'b', 'c', 'd']) {
        dispatcher.push(key, async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 1));
          log.push(`${key}${n}`);
          running -= 1;
        });
      }
    }
    await dispatcher.onIdle();
    for (const key of ['a', 'b', 'c', 'd']) {
      expect(log.filter((entry) => entry.startsWith(key))).toEqual([0, 1, 2, 3, 4].map((n) => `${key}${n}`));
    }
    expect(peak).toBe(3);
    expect(dispatcher.pending).toBe(0);
  });
});

describe('ConsumerPipeline', () => {
  const pipeline = (
    handler: (m: IncomingMessage) => Promise<void>,
    dead: { message: IncomingMessage; cause: DeadLetterCause }[],
    delays: number[],
  ) =>
    new ConsumerPipeline({
      group: 'g',
      handler,
      logger: silentLogger,
      retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000 },
      timers: instantTimers(delays),
      random: () => 0.5,
      deadLetter: (message, cause) => {
        dead.push({ message, cause });
        return Promise.resolve();
      },
    });

  it('retries with backoff, then dead-letters after maxAttempts and settles', async () => {
    const dead: { message: IncomingMessage; cause: DeadLetterCause }[] = [];
    const delays: number[] = [];
    const attempts: number[] = [];
    const outcomes: string[] = [];
    let settled = 0;
    const second = pipeline(
      (m) => {
        attempts.push(m.attempt);
        return Promise.reject(new ConcordError('X_FLAKY', 'flaky', { retryable: true }));
      },
      dead,
      delays,
    );
    await new Promise<void>((resolve) =>
      second.submit(
        { message: incoming('m', 'k'), settle: () => void (settled += 1), release: () => undefined },
        (outcome) => {
          outcomes.push(outcome);
          resolve();
        },
      ),
    );
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(delays).toEqual([50, 100, 200]);
    expect(outcomes.at(-1)).toBe('dead-lettered');
    expect(settled).toBe(1);
    const letter = deadLetterMessage(dead[0]!.message, dead[0]!.cause);
    expect(letter.headers).toMatchObject({
      traceparent: 'tp',
      [DLQ_HEADERS.errorCode]: 'X_FLAKY',
      [DLQ_HEADERS.reason]: 'flaky',
      [DLQ_HEADERS.attempts]: '4',
      [DLQ_HEADERS.originalTopic]: 't',
      [DLQ_HEADERS.group]: 'g',
    });
  });

  it('uses up no attempt while the database is unreachable (a restart): the message is handled afterwards', async () => {
    const dead: { message: IncomingMessage; cause: DeadLetterCause }[] = [];
    const attempts: number[] = [];
    let failures = 10;
    const outage = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    const consumer = pipeline(
      (m) => {
        attempts.push(m.attempt);
        if (failures === 0) return Promise.resolve();
        failures -= 1;
        return Promise.reject(outage);
      },
      dead,
      [],
    );
    const outcome = await new Promise<string>((resolve) =>
      consumer.submit(
        { message: incoming('m', 'k'), settle: () => undefined, release: () => undefined },
        resolve,
      ),
    );
    expect(outcome).toBe('handled');
    expect(dead).toEqual([]);
    expect(attempts).toHaveLength(11);
    expect(new Set(attempts)).toEqual(new Set([1]));
  });

  it('dead-letters a non-retryable error at once', async () => {
    const dead: { message: IncomingMessage; cause: DeadLetterCause }[] = [];
    const consumer = pipeline(() => Promise.reject(new ConcordError('X_BAD', 'bad')), dead, []);
    const outcome = await new Promise((resolve) =>
      consumer.submit(
        { message: incoming('m', 'k'), settle: () => undefined, release: () => undefined },
        resolve,
      ),
    );
    expect(outcome).toBe('dead-lettered');
    expect(dead[0]?.cause.attempts).toBe(1);
  });

  it('holds the key while a dead letter cannot be published: a later message of the key never goes first', async () => {
    const events: string[] = [];
    let refusals = 2;
    const consumer = new ConsumerPipeline({
      group: 'g',
      handler: (m) => {
        if (m.id === 'first') return Promise.reject(new ConcordError('X_BAD', 'bad'));
        events.push(`handled ${m.id}`);
        return Promise.resolve();
      },
      logger: silentLogger,
      timers: instantTimers([]),
      random: () => 0.5,
      deadLetter: (message) => {
        if (refusals-- > 0)
          return Promise.reject(new ConcordError('X_DOWN', 'broker down', { retryable: true }));
        events.push(`dead-lettered ${message.id}`);
        return Promise.resolve();
      },
    });
    const done = ['first', 'second'].map(
      (id) =>
        new Promise<string>((resolve) =>
          consumer.submit(
            {
              message: incoming(id, 'k'),
              settle: () => void events.push(`settled ${id}`),
              release: () => void events.push(`released ${id}`),
            },
            resolve,
          ),
        ),
    );
    expect(await Promise.all(done)).toEqual(['dead-lettered', 'handled']);
    expect(events).toEqual(['dead-lettered first', 'settled first', 'handled second', 'settled second']);
  });

  it('counts attempts remembered from earlier deliveries and reports each failed one', async () => {
    const attempts: number[] = [];
    const failed: number[] = [];
    const dead: { message: IncomingMessage; cause: DeadLetterCause }[] = [];
    const consumer = pipeline(
      (m) => {
        attempts.push(m.attempt);
        return Promise.reject(new ConcordError('X_FLAKY', 'flaky', { retryable: true }));
      },
      dead,
      [],
    );
    await new Promise((resolve) =>
      consumer.submit(
        {
          message: incoming('m', 'k'),
          settle: () => undefined,
          release: () => undefined,
          failedBefore: () => 2,
          failed: (attempt) => void failed.push(attempt),
        },
        resolve,
      ),
    );
    expect(attempts).toEqual([3, 4]);
    expect(failed).toEqual([3, 4]);
    expect(dead[0]?.cause.attempts).toBe(4);
  });

  it('releases what it has not started once closed, and skips invalid deliveries', async () => {
    const consumer = pipeline(() => Promise.resolve(), [], []);
    const released: string[] = [];
    await consumer.close(100);
    consumer.submit({
      message: incoming('late', 'k'),
      settle: () => undefined,
      release: () => void released.push('late'),
    });
    const open = pipeline(() => Promise.resolve(), [], []);
    open.submit({
      message: incoming('stale', 'k'),
      settle: () => undefined,
      release: () => void released.push('stale'),
      isValid: () => false,
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(released.sort()).toEqual(['late', 'stale']);
  });
});
