import { realTimers } from '@concord/bus';
import type { Timers } from '@concord/bus';

export interface WakeableLoopOptions {
  /**
   * One pass of the work. Returns true when more work is known to be waiting (run again at once),
   * false to sleep until woken or until the poll interval passes. Throwing backs off.
   */
  readonly step: () => Promise<boolean>;
  readonly pollIntervalMs: number;
  readonly onError: (error: unknown, failures: number) => void;
  /** Back-off after a failing pass: doubles from `initial` up to `max`. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly timers?: Timers;
}

export interface WakeableLoop {
  start(): void;
  /** Runs the step soon (coalesced with a pass already due). */
  wake(): void;
  /** Stops after the running pass. Idempotent. */
  close(): Promise<void>;
}

/** A background loop woken by events (a commit, a NOTIFY) with polling as the fallback. */
export const createWakeableLoop = (options: WakeableLoopOptions): WakeableLoop => {
  const timers = options.timers ?? realTimers;
  const backoff = options.backoff ?? { initialMs: 100, maxMs: 5_000 };
  let running: Promise<void> | undefined;
  let stopped = false;
  let woken = false;
  let wakeUp: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopped) return resolve();
      const handle = timers.setTimeout(() => {
        wakeUp = undefined;
        resolve();
      }, ms);
      wakeUp = () => {
        timers.clearTimeout(handle);
        wakeUp = undefined;
        resolve();
      };
    });

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      woken = false;
      let more = false;
      try {
        more = await options.step();
        failures = 0;
      } catch (error) {
        failures += 1;
        options.onError(error, failures);
        await sleep(Math.min(backoff.maxMs, backoff.initialMs * 2 ** (failures - 1)));
        continue;
      }
      if (!more) await sleep(options.pollIntervalMs);
    }
  };

  return {
    start() {
      running ??= loop();
    },
    wake() {
      woken = true;
      wakeUp?.();
    },
    async close() {
      stopped = true;
      wakeUp?.();
      await running;
    },
  };
};
