/**
 * How a backoff step is spread: `full` jitter picks uniformly in [0, step) (retries of many callers
 * spread out most), `equal` keeps half the step and picks the other half at random (each caller still
 * waits at least half its step), `none` waits the step itself.
 */
export type Jitter = 'full' | 'equal' | 'none';

/** Exponential backoff: the step doubles from `initialMs` with every failure, up to `maxMs`. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly jitter: Jitter;
}

/**
 * The delay after the `failures`-th failure in a row (1-based): step = min(maxMs, initialMs · 2^(failures − 1)),
 * spread by the backoff's jitter. `random` returns a number in [0, 1) (the caller injects it; core has none).
 */
export const backoffDelay = (failures: number, backoff: Backoff, random: () => number): number => {
  const step = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
  switch (backoff.jitter) {
    case 'full':
      return Math.floor(random() * step);
    case 'equal':
      return Math.round(step / 2 + random() * (step / 2));
    case 'none':
      return step;
  }
};
