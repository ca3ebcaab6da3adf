/** Exponential backoff with full jitter. */
export interface BackoffOptions {
  /** First delay in ms. Default 200. */
  readonly initialDelayMs?: number;
  /** Upper bound in ms. Default 30_000. */
  readonly maxDelayMs?: number;
}

/** Delay before retry number `attempt` (1-based): random in [base/2, base], base = initial·2^(attempt-1). */
export const backoffDelay = (
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number => {
  const initial = options.initialDelayMs ?? 200;
  const max = options.maxDelayMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
};
