/** Counters and recent publish lag of one relay instance. */
export interface RelayCounters {
  /** Rows confirmed by the broker and marked published, since start. */
  readonly published: number;
  readonly deadLettered: number;
  /** Publish attempts that failed for a row (outages excluded). */
  readonly failedAttempts: number;
  /** Rows this relay published but could not mark because its lease had moved on. */
  readonly fenced: number;
  readonly batches: number;
  /** Published rows per second over the last ten seconds. */
  readonly publishedPerSec: number;
  /** Commit-to-confirmation lag of recently published rows (database clock), in ms. */
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

const WINDOW_MS = 10_000;
const SAMPLES = 8192;

export class StatsRecorder {
  published = 0;
  deadLettered = 0;
  failedAttempts = 0;
  fenced = 0;
  batches = 0;
  readonly #lag = new Float64Array(SAMPLES);
  #lagCount = 0;
  /** Percentiles of the samples, computed when asked for after new samples came in. */
  #lagSummary: RelayCounters['lagMs'] | undefined;
  readonly #recent: { at: number; n: number }[] = [];
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  recordPublished(lags: readonly number[]): void {
    this.published += lags.length;
    this.batches += 1;
    for (const lag of lags) {
      this.#lag[this.#lagCount % SAMPLES] = lag;
      this.#lagCount += 1;
    }
    if (lags.length > 0) this.#lagSummary = undefined;
    const now = this.#now();
    this.#recent.push({ at: now, n: lags.length });
    while ((this.#recent[0]?.at ?? now) < now - WINDOW_MS) this.#recent.shift();
  }

  /** Forgets lag samples (e.g. between benchmark phases). */
  resetLag(): void {
    this.#lagCount = 0;
    this.#lagSummary = undefined;
  }

  /** The counters now; lag percentiles are computed (and cached until new samples) when read. */
  snapshot(): RelayCounters {
    const now = this.#now();
    const lag = () => (this.#lagSummary ??= this.#summarizeLag());
    const recent = this.#recent.filter((r) => r.at >= now - WINDOW_MS);
    return {
      published: this.published,
      deadLettered: this.deadLettered,
      failedAttempts: this.failedAttempts,
      fenced: this.fenced,
      batches: this.batches,
      publishedPerSec: recent.reduce((sum, r) => sum + r.n, 0) / (WINDOW_MS / 1000),
      get lagMs() {
        return lag();
      },
    };
  }

  #summarizeLag(): RelayCounters['lagMs'] {
    const samples = this.#lag.slice(0, Math.min(this.#lagCount, SAMPLES)).sort();
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), max: samples.at(-1) ?? 0 };
  }
}
