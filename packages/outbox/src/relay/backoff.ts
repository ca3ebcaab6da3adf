import type { Backoff } from '@concord/core';

/** Backoff of the relay: of a failing key, and of the whole relay while the broker is unreachable. */
export interface BackoffOptions {
  /** First delay in ms. Default 200. */
  readonly initialDelayMs?: number;
  /** Upper bound in ms. Default 30_000. */
  readonly maxDelayMs?: number;
}

/**
 * The relay backs off with equal jitter (core's `backoffDelay`): retry number `attempt` (1-based) waits a
 * random delay in [step/2, step], step = min(maxDelayMs, initialDelayMs · 2^(attempt − 1)), so every
 * retry waits at least half its step while many keys' retries still spread out.
 */
export const relayBackoff = (options: BackoffOptions = {}): Backoff => ({
  initialMs: options.initialDelayMs ?? 200,
  maxMs: options.maxDelayMs ?? 30_000,
  jitter: 'equal',
});
