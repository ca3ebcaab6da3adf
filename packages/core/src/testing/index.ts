import type { PhysicalClock } from '../versions/hlc.js';

/** A physical clock tests move by hand. */
export interface ManualClock extends PhysicalClock {
  set(ms: number): void;
  advance(ms: number): void;
}

/** A clock that starts at `startMs` and moves only when told to. */
export const manualClock = (startMs = 1_700_000_000_000): ManualClock => {
  let current = startMs;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
};
