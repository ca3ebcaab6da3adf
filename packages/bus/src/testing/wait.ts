/**
 * The test helpers every package's tests share (`@concord/bus/testing`): polling with a deadline
 * instead of fixed sleeps, a pause, and unique names for isolating a test's queues, tables and keys.
 */
import { randomBytes } from 'node:crypto';

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A short random lower-case name, valid in topic, group, exchange, schema and Redis key names. */
export const unique = (): string => `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

/**
 * Polls `check` until it gives something other than `undefined` or `false`, and resolves with that;
 * fails with `what` after `timeoutMs`. A boolean check resolves with `true`.
 */
export const waitFor = async <T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 10,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
};
