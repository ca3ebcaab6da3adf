import type { Logger } from '@concord/core';
import type { Leases } from './leases.js';

export interface LeaseRenewalOptions {
  readonly leases: Leases;
  readonly ttlMs: number;
  /** A publish outstanding for longer than this stops the renewals (see {@link LeaseRenewal}). */
  readonly stallTimeoutMs: number;
  readonly now: () => number;
  readonly logger: Logger;
}

/**
 * Renews a relay's leases every third of their TTL on a timer of its own, so a slow pass — a broker
 * taking seconds to confirm, a busy machine — never costs the relay its leases: the pass loop only
 * rebalances (takes or gives partitions) between passes. A relay wedged in one publish for longer than
 * `stallTimeoutMs` (a broker that never answers) stops renewing, so its partitions expire and another
 * relay takes them over, as they would if the process had died.
 */
export class LeaseRenewal {
  readonly #o: LeaseRenewalOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #renewing: Promise<void> | undefined;
  #publishingSince: number | undefined;
  #stallReported = false;

  constructor(options: LeaseRenewalOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.floor(this.#o.ttlMs / 3)));
    this.#timer.unref();
  }

  /** Stops the timer and waits for a renewal in flight. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
  }

  /** Runs one publish call, timing it for the stall rule. */
  async publishing<T>(work: () => Promise<T>): Promise<T> {
    this.#publishingSince = this.#o.now();
    try {
      return await work();
    } finally {
      this.#publishingSince = undefined;
      this.#stallReported = false;
    }
  }

  #tick(): void {
    if (this.#renewing !== undefined) return;
    const since = this.#publishingSince;
    if (since !== undefined && this.#o.now() - since > this.#o.stallTimeoutMs) {
      if (!this.#stallReported) {
        this.#stallReported = true;
        this.#o.logger.warn(
          { publishingForMs: this.#o.now() - since },
          'outbox relay is stuck in a publish; its leases are left to expire',
        );
      }
      return;
    }
    this.#renewing = this.#o.leases
      .renew()
      .then(
        () => undefined,
        (error: unknown) => this.#o.logger.warn({ err: error }, 'outbox relay could not renew its leases'),
      )
      .finally(() => {
        this.#renewing = undefined;
      });
  }
}
