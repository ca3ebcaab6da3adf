import { backoffDelay } from '@concord/core';

/** One unit of work; `id` makes enqueueing idempotent (a job with a known id is not added twice). */
export interface Job<T> {
  readonly id: string;
  readonly data: T;
}

export interface JobAttempt {
  /** 1 on the first run; delays asked for with {@link DelayJobError} do not count. */
  readonly attempt: number;
  readonly maxAttempts: number;
}

export type JobHandler<T> = (job: Job<T>, attempt: JobAttempt) => Promise<void>;

export interface DeadLetterInfo {
  /** Attempts made, the last one included. */
  readonly attempts: number;
  /** The last attempt's error. */
  readonly error: unknown;
}

export interface JobWorkerOptions<T> {
  readonly handler: JobHandler<T>;
  /**
   * Called when a job gives up: after the last attempt, or at once for a non-retryable error. When it
   * throws, nothing recorded the job's outcome: the job is kept and that attempt runs again after a
   * back-off, without counting as another attempt, until the job succeeds or `onDeadLetter` does.
   */
  readonly onDeadLetter: (job: Job<T>, info: DeadLetterInfo) => Promise<void>;
}

/**
 * Thrown by a handler to say "not now": the job runs again after `delayMs` without using up an
 * attempt (an open circuit delays deliveries rather than burning their retries).
 */
export class DelayJobError extends Error {
  override readonly name = 'DelayJobError';
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
  }
}

export const isDelayJob = (error: unknown): error is DelayJobError => error instanceof DelayJobError;

/**
 * Delivery jobs one process runs at once unless configured. An attempt mostly waits (Postgres, the
 * receiver), so throughput is about this many over an attempt's time: 16 kept a loaded machine to a few
 * hundred deliveries a second (`pnpm bench:notifier`); past 64 attempts only queued longer.
 */
export const DEFAULT_DELIVERY_CONCURRENCY = 64;

/** Retry settings shared by every implementation. */
export interface RetrySettings {
  /** Attempts before dead-lettering, the first included. */
  readonly maxAttempts: number;
  /** Delay after the first failure; doubles with every further failure. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Delay before the next attempt after `failures` failed attempts: exponential (initial × 2^(failures-1),
 * capped) with equal jitter — half of it fixed, half uniformly random — so retries of many jobs spread
 * out while each still waits at least half its step.
 */
export const retryDelay = (
  failures: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number =>
  backoffDelay(
    failures,
    { initialMs: settings.initialDelayMs, maxMs: settings.maxDelayMs, jitter: 'equal' },
    random,
  );

/**
 * The port deliveries go through. Implementations: BullMQ on Redis (standalone services) and in
 * memory (the embedded all-in-one process). Both run at least once, retry retryable failures with
 * {@link retryDelay}, honour {@link DelayJobError}, and dead-letter after `maxAttempts` attempts or at
 * once when `isRetryable(error)` is false; a dead letter that cannot be recorded keeps the job.
 */
export interface JobQueue<T> {
  readonly name: string;
  /** Jobs survive a restart of this process (BullMQ). When false, the caller re-enqueues unfinished work at start. */
  readonly durable: boolean;
  /** Adds jobs; ids already known to the queue are ignored. Rejects when the queue cannot take them now. */
  enqueue(jobs: readonly Job<T>[]): Promise<void>;
  /** Starts processing with a handler. Called once. */
  start(options: JobWorkerOptions<T>): Promise<void>;
  isReady(): boolean;
  /** Stops taking jobs, waits for running handlers, releases what it owns. Idempotent. */
  close(): Promise<void>;
}
