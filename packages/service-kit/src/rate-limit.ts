import { ConcordError } from '@concord/core';
import { serviceKitErrors } from './errors.js';

const WINDOW_MS = 60_000;

/** Requests per minute per key: a fixed one-minute window, every key's count dropped when it ends. */
export interface RateLimiter {
  /** Counts a request of `key`; throws `CONCORD_RATE_LIMITED` (with `retryAfterSeconds`) over the limit. */
  take(key: string): void;
}

export function createRateLimiter(options: { perMinute: number; now?: () => number }): RateLimiter {
  const now = options.now ?? Date.now;
  let windowStart = -Infinity;
  // Only the current window's keys: memory is bounded by the distinct callers of one minute.
  const counts = new Map<string, number>();
  return {
    take: (key) => {
      const at = now();
      if (at - windowStart >= WINDOW_MS) {
        windowStart = at - (at % WINDOW_MS);
        counts.clear();
      }
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count > options.perMinute) {
        const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + WINDOW_MS - at) / 1000));
        throw new ConcordError(
          serviceKitErrors.RATE_LIMITED,
          `more than ${options.perMinute} requests a minute`,
          {
            retryable: true,
            details: { retryAfterSeconds },
          },
        );
      }
    },
  };
}
