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
  /**
   * Commit-to-confirmation lag of recently published rows (database clock), in ms: this instance's
   * samples, for benchmarks and tests. Metrics take every sample through a {@link RelayObserver}.
   */
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/**
 * What the relay tells its observer (service-kit's metrics: counters and histograms, which add up
 * across replicas where in-process rates and percentiles would not).
 */
export type RelayEvent =
  /** Rows marked published, with each row's commit-to-confirmation lag (database clock), in ms. */
  | { readonly kind: 'published'; readonly lagsMs: readonly number[] }
  /** One publish call to the broker: its rows and how long it took to be confirmed or to fail. */
  | { readonly kind: 'batch'; readonly rows: number; readonly seconds: number }
  | { readonly kind: 'failed-attempt' }
  | { readonly kind: 'dead-lettered' }
  | { readonly kind: 'fenced'; readonly rows: number };

export type RelayObserver = (event: RelayEvent) => void;

const SAMPLES = 8192;

export class StatsRecorder {
  #published = 0;
  #deadLettered = 0;
  #failedAttempts = 0;
  #fenced = 0;
  #batches = 0;
  readonly #lag = new Float64Array(SAMPLES);
  #lagCount = 0;
  /** Percentiles of the samples, computed when asked for after new samples came in. */
  #lagSummary: RelayCounters['lagMs'] | undefined;
  readonly #observer: RelayObserver;

  constructor(observer: RelayObserver) {
    this.#observer = observer;
  }

  recordPublished(lags: readonly number[]): void {
    this.#published += lags.length;
    this.#batches += 1;
    for (const lag of lags) {
      this.#lag[this.#lagCount % SAMPLES] = lag;
      this.#lagCount += 1;
    }
    if (lags.length > 0) this.#lagSummary = undefined;
    this.#observer({ kind: 'published', lagsMs: lags });
  }

  recordBatch(rows: number, seconds: number): void {
    this.#observer({ kind: 'batch', rows, seconds });
  }

  recordFailedAttempt(): void {
    this.#failedAttempts += 1;
    this.#observer({ kind: 'failed-attempt' });
  }

  recordDeadLettered(): void {
    this.#deadLettered += 1;
    this.#observer({ kind: 'dead-lettered' });
  }

  recordFenced(rows: number): void {
    this.#fenced += rows;
    this.#observer({ kind: 'fenced', rows });
  }

  /** Forgets lag samples (e.g. between benchmark phases). */
  resetLag(): void {
    this.#lagCount = 0;
    this.#lagSummary = undefined;
  }

  /** The counters now; lag percentiles are computed (and cached until new samples) when read. */
  snapshot(): RelayCounters {
    const lag = () => (this.#lagSummary ??= this.#summarizeLag());
    return {
      published: this.#published,
      deadLettered: this.#deadLettered,
      failedAttempts: this.#failedAttempts,
      fenced: this.#fenced,
      batches: this.#batches,
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
