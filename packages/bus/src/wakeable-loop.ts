import { backoffDelay } from '@concord/core';
import type { Backoff } from '@concord/core';
import { realTimers, sleep } from './timers.js';
import type { Timers } from './timers.js';

/** A sleep a pass asks for: `wakeable` (the default) ends at a wake(); close() ends any sleep. */
export interface Pause {
  readonly ms: number;
  readonly wakeable?: boolean;
}

export interface WakeableLoopOptions {
  /**
   * One pass of the work. Returns true when more work is known to be waiting (run again at once), false
   * to sleep until woken or until `pollIntervalMs` passes, or the {@link Pause} to take. Throwing backs off.
   */
  readonly step: () => Promise<boolean | Pause>;
  readonly pollIntervalMs: number;
  /** Told of a pass that threw, with the failures in a row so far (1 for the first) and the back-off ahead. */
  readonly onError: (error: unknown, failures: number, retryInMs: number) => void;
  /** Back-off after failing passes. Default: doubling from 100 ms up to 5 s, no jitter. */
  readonly backoff?: Backoff;
  /** Whether a wake() ends a back-off early. Default true. */
  readonly wakeDuringBackoff?: boolean;
  /** For the back-off's jitter. Default Math.random. */
  readonly random?: () => number;
  readonly timers?: Timers;
}

export interface WakeableLoop {
  start(): void;
  /**
   * Runs the next pass soon: ends a wakeable sleep, or, during a pass, makes the sleep after it end at
   * once. Wakes coalesce; a wake before a pass starts is covered by that pass.
   */
  wake(): void;
  /** Stops after the running pass (ending any sleep). Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000, jitter: 'none' };

/** A background loop woken by events (a commit, a NOTIFY) with polling as the fallback. */
export const createWakeableLoop = (options: WakeableLoopOptions): WakeableLoop => {
  const timers = options.timers ?? realTimers;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  /** A wake came in since the current pass started. */
  let woken = false;
  /** Ends the wakeable sleep under way, if any. */
  let napping: AbortController | undefined;

  const pause = async ({ ms, wakeable = true }: Pause): Promise<void> => {
    if (!wakeable) return sleep(timers, ms, stop.signal);
    if (woken || stop.signal.aborted) return;
    const nap = new AbortController();
    napping = nap;
    await sleep(timers, ms, nap.signal);
    if (napping === nap) napping = undefined;
  };

  const loop = async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      woken = false;
      let next: boolean | Pause;
      try {
        next = await options.step();
        failures = 0;
      } catch (error) {
        failures += 1;
        const delay = backoffDelay(failures, backoff, random);
        options.onError(error, failures, delay);
        await pause({ ms: delay, wakeable: options.wakeDuringBackoff ?? true });
        continue;
      }
      if (next === true) continue;
      await pause(next === false ? { ms: options.pollIntervalMs } : next);
    }
  };

  return {
    start() {
      running ??= loop();
    },
    wake() {
      woken = true;
      napping?.abort();
    },
    async close() {
      stop.abort();
      napping?.abort();
      await running;
    },
  };
};
