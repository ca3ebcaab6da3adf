export interface BackoffOptions {
  /** First delay's ceiling, ms. */
  readonly initialMs: number;
  /** Largest delay, ms. */
  readonly maxMs: number;
  /** A number in [0, 1); default Math.random. */
  readonly random?: () => number;
}

/**
 * Exponential backoff with full jitter (a delay drawn uniformly below the attempt's ceiling), so
 * clients that went offline together do not come back in step.
 */
export const backoffDelay = (attempt: number, options: BackoffOptions): number => {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor((options.random ?? Math.random)() * ceiling);
};

/** Resolves after `ms`, or at once when `signal` aborts or `wake` is called (whichever comes first). */
export const pause = (ms: number, signal: AbortSignal, wake?: (resume: () => void) => void): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    wake?.(done);
  });
