import { realTimers } from '@concord/bus';
import type { Timers } from '@concord/bus';
import { isRetryable, silentLogger, ConcordError } from '@concord/core';
import type { Logger } from '@concord/core';
import { notifierErrors } from '../errors.js';
import { DEFAULT_DELIVERY_CONCURRENCY, isDelayJob, retryDelay } from './port.js';
import type { Job, JobQueue, JobWorkerOptions, RetrySettings } from './port.js';

export interface MemoryJobQueueOptions {
  readonly retry: RetrySettings;
  /** Jobs run at once. Default {@link DEFAULT_DELIVERY_CONCURRENCY} (64). */
  readonly concurrency?: number;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly logger?: Logger;
  /** How long close() waits for running handlers. Default 10 s. */
  readonly drainTimeoutMs?: number;
}

interface Entry<T> {
  readonly job: Job<T>;
  failures: number;
  timer?: unknown;
}

/**
 * The in-memory job queue of the embedded mode: the same retry, delay and dead-letter semantics as
 * the BullMQ queue, with injectable timers and randomness. Not durable: jobs live in this process
 * only, so the dispatcher re-enqueues unfinished deliveries from Postgres at start.
 */
export const createMemoryJobQueue = <T>(options: MemoryJobQueueOptions): JobQueue<T> => {
  const timers = options.timers ?? realTimers;
  const random = options.random ?? Math.random;
  const logger = (options.logger ?? silentLogger).child({ queue: 'memory' });
  const concurrency = options.concurrency ?? DEFAULT_DELIVERY_CONCURRENCY;
  const entries = new Map<string, Entry<T>>();
  const waiting: Entry<T>[] = [];
  const running = new Set<Promise<void>>();
  let worker: JobWorkerOptions<T> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const later = (entry: Entry<T>, delayMs: number): void => {
    entry.timer = timers.setTimeout(() => {
      delete entry.timer;
      waiting.push(entry);
      pump();
    }, delayMs);
  };

  const run = async (entry: Entry<T>, handlers: JobWorkerOptions<T>): Promise<void> => {
    const attempt = entry.failures + 1;
    try {
      await handlers.handler(entry.job, { attempt, maxAttempts: options.retry.maxAttempts });
      entries.delete(entry.job.id);
    } catch (error) {
      if (closed) {
        entries.delete(entry.job.id);
        return;
      }
      if (isDelayJob(error)) {
        later(entry, error.delayMs);
        return;
      }
      if (attempt >= options.retry.maxAttempts || !isRetryable(error)) {
        try {
          await handlers.onDeadLetter(entry.job, { attempts: attempt, error });
          entries.delete(entry.job.id);
        } catch (deadLetterError) {
          logger.error(
            { err: deadLetterError, jobId: entry.job.id, attempts: attempt },
            'recording a dead letter failed; the last attempt runs again later',
          );
          if (closed) entries.delete(entry.job.id);
          else later(entry, retryDelay(attempt, options.retry, random));
        }
        return;
      }
      entry.failures = attempt;
      later(entry, retryDelay(attempt, options.retry, random));
    }
  };

  const pump = (): void => {
    if (worker === undefined || closed) return;
    while (running.size < concurrency && waiting.length > 0) {
      const entry = waiting.shift();
      if (entry === undefined) break;
      const task = run(entry, worker).finally(() => {
        running.delete(task);
        pump();
      });
      running.add(task);
    }
  };

  return {
    name: 'memory',
    durable: false,
    enqueue(jobs) {
      if (closed)
        return Promise.reject(new ConcordError(notifierErrors.JOB_QUEUE_CLOSED, 'job queue is closed'));
      for (const job of jobs) {
        if (entries.has(job.id)) continue;
        const entry: Entry<T> = { job, failures: 0 };
        entries.set(job.id, entry);
        waiting.push(entry);
      }
      pump();
      return Promise.resolve();
    },
    start(workerOptions) {
      worker = workerOptions;
      pump();
      return Promise.resolve();
    },
    isReady: () => !closed,
    close() {
      closing ??= (async () => {
        closed = true;
        for (const entry of entries.values()) {
          if (entry.timer !== undefined) timers.clearTimeout(entry.timer);
        }
        waiting.length = 0;
        let timer: unknown;
        const deadline = new Promise<void>((resolve) => {
          timer = timers.setTimeout(resolve, options.drainTimeoutMs ?? 10_000);
        });
        await Promise.race([Promise.allSettled([...running]), deadline]);
        timers.clearTimeout(timer);
        entries.clear();
      })();
      return closing;
    },
  };
};
