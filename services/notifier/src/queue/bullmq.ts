import { isRetryable, silentLogger, ConcordError } from '@concord/core';
import type { Logger } from '@concord/core';
import { DelayedError, Queue, Worker } from 'bullmq';
import type { Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { notifierErrors } from '../errors.js';
import { DEFAULT_DELIVERY_CONCURRENCY, isDelayJob, retryDelay } from './port.js';
import type { JobQueue, JobWorkerOptions, RetrySettings } from './port.js';

export interface BullMqJobQueueOptions {
  /** Connection for adding jobs; give it `enableOfflineQueue: false` so adds fail fast while Redis is down. */
  readonly connection: Redis;
  /** Connection for the worker (BullMQ requires `maxRetriesPerRequest: null` there). */
  readonly workerConnection: Redis;
  readonly queueName: string;
  /** Redis key prefix; tests use a unique one each. */
  readonly prefix: string;
  readonly retry: RetrySettings;
  /** Jobs run at once by this process. Default {@link DEFAULT_DELIVERY_CONCURRENCY} (64). */
  readonly concurrency?: number;
  readonly random?: () => number;
  readonly logger?: Logger;
  /** Completed jobs are kept this long so a re-add of the same id stays a no-op. Default 24 h. */
  readonly keepCompletedSeconds?: number;
}

const BACKOFF_TYPE = 'concord';

/**
 * The BullMQ job queue: durable jobs in Redis, at least once. Retries go through BullMQ's backoff with
 * {@link retryDelay}; a handler's {@link DelayJobError} moves the job to the delayed set without using
 * an attempt; the last attempt (or a non-retryable error) calls `onDeadLetter` and completes the job.
 * When `onDeadLetter` throws, the job goes to the delayed set as well and its last attempt runs again:
 * failing the job instead would end it for good with its delivery recorded nowhere (left `queued`).
 */
export const createBullMqJobQueue = <T>(options: BullMqJobQueueOptions): JobQueue<T> => {
  const logger = (options.logger ?? silentLogger).child({ queue: options.queueName });
  const random = options.random ?? Math.random;
  const { maxAttempts } = options.retry;
  const queue = new Queue(options.queueName, { connection: options.connection, prefix: options.prefix });
  queue.on('error', (error) => logger.warn({ err: error }, 'job queue connection error'));
  let worker: Worker | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const processor = (handlers: JobWorkerOptions<T>) => async (job: BullJob, token?: string) => {
    const attempt = job.attemptsMade + 1;
    const ref = { id: job.id ?? job.name, data: job.data as T };
    try {
      await handlers.handler(ref, { attempt, maxAttempts });
    } catch (error) {
      if (isDelayJob(error)) {
        await job.moveToDelayed(Date.now() + error.delayMs, token);
        throw new DelayedError();
      }
      if (attempt >= maxAttempts || !isRetryable(error)) {
        try {
          await handlers.onDeadLetter(ref, { attempts: attempt, error });
        } catch (deadLetterError) {
          logger.error(
            { err: deadLetterError, jobId: ref.id, attempts: attempt },
            'recording a dead letter failed; the last attempt runs again later',
          );
          await job.moveToDelayed(Date.now() + retryDelay(attempt, options.retry, random), token);
          throw new DelayedError();
        }
        return;
      }
      throw error;
    }
  };

  return {
    name: 'bullmq',
    durable: true,
    async enqueue(jobs) {
      if (closed) throw new ConcordError(notifierErrors.JOB_QUEUE_CLOSED, 'job queue is closed');
      if (jobs.length === 0) return;
      await queue.addBulk(
        jobs.map((job) => ({
          name: 'delivery',
          data: job.data,
          opts: {
            jobId: job.id,
            attempts: maxAttempts,
            backoff: { type: BACKOFF_TYPE },
            removeOnComplete: { age: options.keepCompletedSeconds ?? 86_400 },
            removeOnFail: { age: 7 * 86_400 },
          },
        })),
      );
    },
    async start(handlers) {
      if (worker !== undefined) return;
      worker = new Worker(options.queueName, processor(handlers), {
        connection: options.workerConnection,
        prefix: options.prefix,
        concurrency: options.concurrency ?? DEFAULT_DELIVERY_CONCURRENCY,
        settings: {
          backoffStrategy: (attemptsMade: number) => retryDelay(attemptsMade, options.retry, random),
        },
      });
      worker.on('error', (error) => logger.warn({ err: error }, 'job worker error'));
      worker.on('failed', (job, error) => {
        if (job !== undefined)
          logger.debug({ err: error, jobId: job.id, attemptsMade: job.attemptsMade }, 'job attempt failed');
      });
      await worker.waitUntilReady();
    },
    isReady: () =>
      !closed && options.connection.status === 'ready' && options.workerConnection.status === 'ready',
    close() {
      closing ??= (async () => {
        closed = true;
        await worker?.close();
        await queue.close();
      })();
      return closing;
    },
  };
};
