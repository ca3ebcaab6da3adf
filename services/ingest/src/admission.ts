import { ConcordError } from '@concord/core';
import type { Logger } from '@concord/core';
import { DrainWatch } from './drain-watch.js';
import type { GroupLag } from './drain-watch.js';
import { ingestErrors } from './errors.js';

/** What the pipeline behind ingest holds, sampled on a timer. */
export interface BacklogSample {
  /** Outbox rows not yet published: every service's outbox (they share the table). */
  readonly outboxRows: number;
  /** Age of the oldest of them, in ms. */
  readonly outboxLagMs: number;
  /**
   * Messages waiting for the slowest downstream consumer group (queue depth, group lag) whose lag
   * drains, if probed.
   */
  readonly consumerLag?: number;
  /** Groups whose lag did not drain while ingest refused (`group topic`): not counted (DESIGN §7). */
  readonly stalledGroups?: readonly string[];
}

/** What one look at the pipeline reads: the outbox backlog and, if probed, every downstream group's lag. */
export interface BacklogReading {
  readonly outboxRows: number;
  readonly outboxLagMs: number;
  /** Each downstream group's lag; absent when there is no probe. */
  readonly consumerLags?: readonly GroupLag[];
  /** The probe failed: its groups count as not draining (their last lags repeat). */
  readonly consumerLagError?: unknown;
}

/** Bounds above which ingest refuses new work; 0 turns a bound off. */
export interface AdmissionLimits {
  readonly maxOutboxRows: number;
  readonly maxOutboxLagMs: number;
  readonly maxConsumerLag: number;
  /** How often the backlog is sampled. */
  readonly sampleIntervalMs: number;
  /** What `Retry-After` says, in seconds. */
  readonly retryAfterSeconds: number;
  /**
   * How long a group's lag may go without falling while ingest refuses before admission stops counting
   * it (it cannot be drained by refusing; see {@link DrainWatch}).
   */
  readonly stallMs: number;
}

/**
 * Once refusing, ingest admits again only when every signal is at or below this fraction of its bound,
 * so that it does not flap at every sample around the bound.
 */
export const RESUME_FRACTION = 0.8;

export interface AdmissionOptions {
  readonly sample: () => Promise<BacklogReading>;
  readonly limits: AdmissionLimits;
  readonly logger: Logger;
  /** Milliseconds, for how long a lag has not fallen. Default `performance.now`. */
  readonly now?: () => number;
  /** Told about every sample and every change of state (metrics). */
  readonly onSample?: (sample: BacklogSample, admitting: boolean) => void;
}

/** The signals over their bound, by name (empty: within bounds). */
const over = (sample: BacklogSample, limits: AdmissionLimits, fraction: number): string[] => {
  const reasons: string[] = [];
  const above = (value: number, bound: number) => bound > 0 && value > bound * fraction;
  if (above(sample.outboxRows, limits.maxOutboxRows)) reasons.push('outbox_rows');
  if (above(sample.outboxLagMs, limits.maxOutboxLagMs)) reasons.push('outbox_lag');
  if (above(sample.consumerLag ?? 0, limits.maxConsumerLag)) reasons.push('consumer_lag');
  return reasons;
};

/**
 * Admission control (DESIGN §7): a timer samples the backlog behind ingest — the outbox rows every
 * service still has to publish and the messages the downstream consumer groups have not consumed — and
 * while it is over a bound, `POST /v1/events` answers 429 with `Retry-After` and `CONCORD_OVERLOADED`
 * and the submit consumer holds its messages (the broker stops delivering more: prefetch, paused
 * partitions) instead of accepting work the pipeline cannot carry. Deciding costs a request nothing: it
 * reads the last sample. A failed sample keeps the last decision; a failed lag probe does not fail the
 * sample. A group's lag counts only while it drains ({@link DrainWatch}): refusing must never lock
 * ingest out for good on a lag that refusing cannot reduce.
 */
export class Admission {
  readonly #o: AdmissionOptions;
  #admitting = true;
  #reasons: string[] = [];
  #last: BacklogSample | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sampling: Promise<void> | undefined;
  #closed = false;
  /** Whether the lag probe failed at the last sample (logged once per run of failures). */
  #lagFailing = false;
  readonly #drain: DrainWatch;
  /** Submit messages waiting for admission. */
  readonly #waiters = new Set<() => void>();

  constructor(options: AdmissionOptions) {
    this.#o = options;
    this.#drain = new DrainWatch({
      stallMs: options.limits.stallMs,
      now: options.now ?? (() => performance.now()),
    });
  }

  get admitting(): boolean {
    return this.#admitting;
  }

  /** Submit messages held until ingest admits again. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Samples at once, then every `sampleIntervalMs`. */
  async start(): Promise<void> {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.sampleNow(), this.#o.limits.sampleIntervalMs);
    this.#timer.unref();
    await this.sampleNow();
  }

  /** Takes one sample now (a sample already running is awaited instead). */
  sampleNow(): Promise<void> {
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
    return this.#sampling;
  }

  /** While refusing: the error to answer with and the `Retry-After` seconds; else undefined. */
  refusal(): { readonly error: ConcordError; readonly retryAfterSeconds: number } | undefined {
    if (this.#admitting) return undefined;
    const retryAfterSeconds = this.#o.limits.retryAfterSeconds;
    const error = new ConcordError(
      ingestErrors.OVERLOADED,
      'the pipeline is over its backlog bound; retry later',
      {
        retryable: true,
        details: { retryAfterSeconds, reasons: this.#reasons, ...this.#last },
      },
    );
    return { error, retryAfterSeconds };
  }

  /** Resolves once ingest admits work (at once if it does), or on close. */
  whenAdmitting(): Promise<void> {
    if (this.#admitting || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  /** Stops sampling and lets held submit messages through (the consumer is draining). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#release();
    await this.#sampling;
  }

  async #sample(): Promise<void> {
    let reading: BacklogReading;
    try {
      reading = await this.#o.sample();
    } catch (error) {
      this.#o.logger.warn({ err: error }, 'ingest could not sample the backlog; admission unchanged');
      return;
    }
    const sample = this.#consumerLag(reading);
    this.#last = sample;
    const { limits, logger } = this.#o;
    if (this.#admitting) {
      const reasons = over(sample, limits, 1);
      if (reasons.length > 0) {
        this.#admitting = false;
        this.#reasons = reasons;
        logger.warn(
          { ...sample, reasons },
          'ingest refuses new work: the pipeline is over its backlog bound',
        );
      }
    } else if (over(sample, limits, RESUME_FRACTION).length === 0) {
      this.#admitting = true;
      this.#reasons = [];
      logger.info({ ...sample }, 'ingest admits new work again');
      this.#release();
    } else {
      this.#reasons = over(sample, limits, RESUME_FRACTION);
    }
    this.#o.onSample?.(sample, this.#admitting);
  }

  /** The outbox signals as read, and the lag of the groups that drain (their last lags if the probe failed). */
  #consumerLag(reading: BacklogReading): BacklogSample {
    const { outboxRows, outboxLagMs } = reading;
    const { logger } = this.#o;
    if (reading.consumerLagError !== undefined) {
      if (!this.#lagFailing)
        logger.warn(
          { err: reading.consumerLagError },
          'ingest could not read the consumer lag; the last lags count until they stop draining',
        );
    } else if (this.#lagFailing) logger.info({}, 'ingest reads the consumer lag again');
    this.#lagFailing = reading.consumerLagError !== undefined;
    if (reading.consumerLags === undefined && !this.#lagFailing) return { outboxRows, outboxLagMs };
    const drain = this.#drain.observe(reading.consumerLags, !this.#admitting);
    for (const { group, topic, messages } of drain.newlyStalled)
      logger.warn(
        { group, topic, messages, stallMs: this.#o.limits.stallMs },
        "a consumer group's lag does not drain while ingest refuses; admission stops counting it until it falls",
      );
    for (const { group, topic, messages } of drain.draining)
      logger.info({ group, topic, messages }, "a consumer group's lag drains again; admission counts it");
    return {
      outboxRows,
      outboxLagMs,
      consumerLag: drain.lag,
      ...(drain.stalled.length === 0 ? {} : { stalledGroups: drain.stalled }),
    };
  }

  #release(): void {
    for (const resolve of this.#waiters) resolve();
    this.#waiters.clear();
  }
}
