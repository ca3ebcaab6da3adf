/** Result of a timed loop. */
export interface Measurement {
  readonly ops: number;
  readonly seconds: number;
  readonly perSec: number;
}

/** Options for `measure` / `measureAsync`. */
export interface MeasureOptions {
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** Run `fn` for a warm-up period, then count calls for a fixed duration (checked every 256 calls). */
export const measure = (fn: () => unknown, options: MeasureOptions): Measurement => {
  let sink = 0;
  const run = (ms: number): { ops: number; seconds: number } => {
    const start = performance.now();
    const end = start + ms;
    let ops = 0;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 256; i++) if (fn() !== undefined) sink++;
      ops += 256;
      now = performance.now();
    }
    return { ops, seconds: (now - start) / 1000 };
  };
  run(options.warmupMs);
  const { ops, seconds } = run(options.durationMs);
  if (sink < 0) throw new Error('unreachable');
  return { ops, seconds, perSec: Math.round(ops / seconds) };
};

/** Like `measure` for async work, one call at a time (sequential decisions). */
export const measureAsync = async (
  fn: () => Promise<unknown>,
  options: MeasureOptions,
): Promise<Measurement> => {
  const run = async (ms: number): Promise<{ ops: number; seconds: number }> => {
    const start = performance.now();
    const end = start + ms;
    let ops = 0;
    let now = start;
    while (now < end) {
      await fn();
      ops++;
      now = performance.now();
    }
    return { ops, seconds: (now - start) / 1000 };
  };
  await run(options.warmupMs);
  const { ops, seconds } = await run(options.durationMs);
  return { ops, seconds, perSec: Math.round(ops / seconds) };
};
