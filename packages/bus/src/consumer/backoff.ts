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
 * Exponential backoff with full jitter: a uniformly random delay in
 * `[0, min(maxDelayMs, initialDelayMs * 2^(attempt - 1)))`, where `attempt` is the attempt that failed.
 * `random` returns a number in [0, 1) (inject a fixed one in tests).
 */
export const backoffDelay = (retry: ResolvedRetry, attempt: number, random: () => number): number => {
  const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
};
