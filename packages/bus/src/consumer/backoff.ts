import type { Backoff } from '@concord/core';
import type { RetryOptions } from '../port.js';
import { invalidOptionsError } from '../errors.js';

/** Retry options with every default filled in. */
export type ResolvedRetry = Required<RetryOptions>;

export const DEFAULT_RETRY: ResolvedRetry = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 10_000 };

export const resolveRetry = (options: RetryOptions = {}): ResolvedRetry => {
  const retry = { ...DEFAULT_RETRY, ...options };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw invalidOptionsError('retry.maxAttempts must be an integer >= 1', retry);
  }
  if (!(retry.initialDelayMs >= 0) || !(retry.maxDelayMs >= retry.initialDelayMs)) {
    throw invalidOptionsError('retry delays must satisfy 0 <= initialDelayMs <= maxDelayMs', retry);
  }
  return retry;
};

/**
 * The bus backs off with full jitter: a uniformly random delay in
 * `[0, min(maxDelayMs, initialDelayMs * 2^(attempt - 1)))`, where `attempt` is the attempt that failed
 * (core's `backoffDelay`, with a `random` the caller injects).
 */
export const retryBackoff = (retry: {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}): Backoff => ({ initialMs: retry.initialDelayMs, maxMs: retry.maxDelayMs, jitter: 'full' });
