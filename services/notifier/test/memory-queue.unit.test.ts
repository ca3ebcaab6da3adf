import { ConcordError } from '@concord/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import { DelayJobError, retryDelay } from '../src/queue/port.js';
import type { DeadLetterInfo, Job, JobQueue } from '../src/queue/port.js';

const retry = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 350 };

describe('retryDelay', () => {
  it('doubles per failure up to the cap, with equal jitter', () => {
    expect([1, 2, 3, 4, 5].map((failures) => retryDelay(failures, retry, () => 1))).toEqual([
      100, 200, 350, 350, 350,
    ]);
    expect([1, 2, 3].map((failures) => retryDelay(failures, retry, () => 0))).toEqual([50, 100, 175]);
    for (let failures = 1; failures < 10; failures += 1) {
      const delay = retryDelay(failures, retry, Math.random);
      const step = Math.min(350, 100 * 2 ** (failures - 1));
      expect(delay).toBeGreaterThanOrEqual(step / 2);
      expect(delay).toBeLessThanOrEqual(step);
    }
  });
});

describe('memory job queue', () => {
  let queue: JobQueue<string>;
  let calls: { id: string; attempt: number; at: number }[];
  let deadLetters: { job: Job<string>; info: DeadLetterInfo }[];
  const start = Date.UTC(2030, 0, 1);

  const run = (behaviour: (job: Job<string>, attempt: number) => void | Promise<void>) =>
    queue.start({
      handler: async (job, { attempt }) => {
        calls.push({ id: job.id, attempt, at: Date.now() - start });
        await behaviour(job, attempt);
      },
      onDeadLetter: (job, info) => {
        deadLetters.push({ job, info });
        return Promise.resolve();
      },
    });

  beforeEach(() => {
    vi.useFakeTimers({ now: start });
    calls = [];
    deadLetters = [];
    queue = createMemoryJobQueue<string>({
      retry,
      concurrency: 2,
      random: () => 1,
      timers: {
        setTimeout: (callback, ms) => setTimeout(callback, ms),
        clearTimeout: (handle) => clearTimeout(handle as number),
      },
    });
  });

  afterEach(async () => {
    await queue.close();
    vi.useRealTimers();
  });

  it('retries a failing job with exponential backoff until it succeeds', async () => {
    await run((_job, attempt) => {
      if (attempt < 3) throw new Error(`boom ${attempt}`);
    });
    await queue.enqueue([{ id: 'a', data: 'x' }]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([
      { id: 'a', attempt: 1, at: 0 },
      { id: 'a', attempt: 2, at: 100 },
      { id: 'a', attempt: 3, at: 300 },
    ]);
    expect(deadLetters).toEqual([]);
  });

  it('dead-letters after maxAttempts with the last error', async () => {
    await run((_job, attempt) => {
      throw new Error(`boom ${attempt}`);
    });
    await queue.enqueue([{ id: 'a', data: 'x' }]);
    await vi.advanceTimersByTimeAsync(299);
    expect(calls.map((call) => call.attempt)).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((call) => [call.attempt, call.at])).toEqual([
      [1, 0],
      [2, 100],
      [3, 300],
      [4, 650],
    ]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.info.attempts).toBe(4);
    expect((deadLetters[0]?.info.error as Error).message).toBe('boom 4');
  });

  it('dead-letters at once on a non-retryable error', async () => {
    await run(() => {
      throw new ConcordError('CONCORD_WEBHOOK_URL_PRIVATE', 'no', { retryable: false });
    });
    await queue.enqueue([{ id: 'a', data: 'x' }]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(1);
    expect(deadLetters.map((letter) => letter.info.attempts)).toEqual([1]);
  });

  it('keeps a job whose dead letter cannot be recorded and runs its last attempt again', async () => {
    const refused = new ConcordError('CONCORD_WEBHOOK_URL_PRIVATE', 'no', { retryable: false });
    let unrecordable = 3;
    let failsOnce = true;
    await queue.start({
      handler: (job, { attempt }) => {
        calls.push({ id: job.id, attempt, at: Date.now() - start });
        if (job.id === 'a') throw refused;
        if (failsOnce) {
          failsOnce = false;
          throw refused;
        }
        return Promise.resolve();
      },
      onDeadLetter: (job, info) => {
        if (unrecordable > 0) {
          unrecordable -= 1;
          return Promise.reject(new Error('database unavailable'));
        }
        deadLetters.push({ job, info });
        return Promise.resolve();
      },
    });
    await queue.enqueue([
      { id: 'a', data: 'x' },
      { id: 'b', data: 'y' },
    ]);
    await vi.advanceTimersByTimeAsync(10_000);
    // Both dead letters failed at first; b's attempt went through when it ran again, a's was recorded
    // on its third run. Neither counted as another attempt.
    expect(calls.filter((call) => call.id === 'b').map((call) => [call.attempt, call.at])).toEqual([
      [1, 0],
      [1, 100],
    ]);
    expect(calls.filter((call) => call.id === 'a').map((call) => [call.attempt, call.at])).toEqual([
      [1, 0],
      [1, 100],
      [1, 200],
    ]);
    expect(deadLetters.map((letter) => [letter.job.id, letter.info.attempts])).toEqual([['a', 1]]);
    expect(deadLetters[0]?.info.error).toBe(refused);
  });

  it('runs a delayed job again later without using up an attempt', async () => {
    let delays = 0;
    await run((_job, attempt) => {
      if (delays < 5) {
        delays += 1;
        throw new DelayJobError(1_000, 'circuit open');
      }
      if (attempt === 1) throw new Error('first real failure');
    });
    await queue.enqueue([{ id: 'a', data: 'x' }]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls.map((call) => call.attempt)).toEqual([1, 1, 1, 1, 1, 1, 2]);
    expect(calls.map((call) => call.at)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 5_100]);
    expect(deadLetters).toEqual([]);
  });

  it('ignores a job id it already holds and bounds concurrency', async () => {
    const gates: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    await run(async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running -= 1;
    });
    await queue.enqueue([
      { id: 'a', data: '1' },
      { id: 'a', data: 'again' },
      { id: 'b', data: '2' },
      { id: 'c', data: '3' },
    ]);
    await queue.enqueue([{ id: 'b', data: 'again' }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(2);
    while (gates.length > 0) {
      gates.shift()?.();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(calls.map((call) => call.id)).toEqual(['a', 'b', 'c']);
    expect(peak).toBe(2);
  });

  it('runs 64 jobs at once unless told otherwise', async () => {
    const gates: (() => void)[] = [];
    let running = 0;
    const unbounded = createMemoryJobQueue<string>({ retry });
    await unbounded.start({
      handler: async () => {
        running += 1;
        await new Promise<void>((resolve) => gates.push(resolve));
        running -= 1;
      },
      onDeadLetter: () => Promise.resolve(),
    });
    await unbounded.enqueue(Array.from({ length: 70 }, (_, i) => ({ id: `j${i}`, data: String(i) })));
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(64);
    for (const open of gates.splice(0)) open();
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(6);
    for (const open of gates.splice(0)) open();
    await unbounded.close();
  });

  it('stops retrying on close and refuses new jobs', async () => {
    await run(() => {
      throw new Error('boom');
    });
    await queue.enqueue([{ id: 'a', data: 'x' }]);
    await vi.advanceTimersByTimeAsync(0);
    await queue.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(1);
    expect(queue.isReady()).toBe(false);
    await expect(queue.enqueue([{ id: 'b', data: 'y' }])).rejects.toMatchObject({
      code: 'CONCORD_JOB_QUEUE_CLOSED',
    });
  });
});
