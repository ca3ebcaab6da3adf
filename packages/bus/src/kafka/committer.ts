import type { Logger } from '@concord/core';
import type { Consumer } from 'kafkajs';
import type { Timers } from '../timers.js';
import type { PartitionTracker } from './partition-tracker.js';

export interface OffsetCommitterOptions {
  /** The consumer currently running, if any. */
  readonly consumer: () => Consumer | undefined;
  /** The partitions of the current generation. */
  readonly trackers: () => Iterable<PartitionTracker>;
  readonly logger: Logger;
  readonly timers: Timers;
  /** Least time between two commit requests; settled offsets accumulate meanwhile. */
  readonly intervalMs: number;
  /** Delay before trying again after a failed commit. */
  readonly retryDelayMs: number;
}

/**
 * Commits the partitions' commit points: one commit request in flight at a time, at most one per
 * `intervalMs`, covering every partition that moved meanwhile — commits keep up with any consume rate
 * without a request per message. A failed
 * commit (rebalance, broker restart) is tried again later; until then the records stay uncommitted and are
 * delivered again if the partition moves — at least once, never lost.
 */
export class OffsetCommitter {
  readonly #options: OffsetCommitterOptions;
  #running: Promise<void> | undefined;
  #again = false;
  /** A commit waiting for `intervalMs` to pass since the previous one. */
  #scheduled: unknown;
  #lastCommitAt = Number.NEGATIVE_INFINITY;

  constructor(options: OffsetCommitterOptions) {
    this.#options = options;
  }

  /** Asks for a commit: at once if none happened within `intervalMs`, else when that has passed. */
  request(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#scheduled !== undefined) return;
    const wait = this.#lastCommitAt + this.#options.intervalMs - performance.now();
    if (wait <= 0) {
      this.#start();
      return;
    }
    this.#scheduled = this.#options.timers.setTimeout(() => {
      this.#scheduled = undefined;
      this.#start();
    }, wait);
  }

  /** Commits what is settled now and waits for it. */
  async flush(): Promise<void> {
    this.#cancelScheduled();
    if (this.#running === undefined) this.#start();
    else this.#again = true;
    while (this.#running !== undefined) await this.#running;
  }

  /** Drops a scheduled commit (after the final flush). */
  stop(): void {
    this.#cancelScheduled();
  }

  #cancelScheduled(): void {
    if (this.#scheduled === undefined) return;
    this.#options.timers.clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
  }

  #start(): void {
    this.#running = this.#commitOnce().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.request();
      }
    });
  }

  async #commitOnce(): Promise<void> {
    const consumer = this.#options.consumer();
    if (consumer === undefined) return;
    const batch: { tracker: PartitionTracker; offset: number }[] = [];
    for (const tracker of this.#options.trackers()) {
      const offset = tracker.uncommitted();
      if (offset !== undefined) batch.push({ tracker, offset });
    }
    if (batch.length === 0) return;
    this.#lastCommitAt = performance.now();
    try {
      await consumer.commitOffsets(
        batch.map(({ tracker, offset }) => ({
          topic: tracker.topic,
          partition: tracker.partition,
          offset: String(offset),
        })),
      );
      for (const { tracker, offset } of batch) tracker.committed(offset);
    } catch (error) {
      this.#options.logger.warn(
        { err: error, partitions: batch.length },
        'kafka offset commit failed; will retry',
      );
      // Try again later: request() waits until lastCommitAt + intervalMs, so push that retryDelayMs ahead.
      this.#lastCommitAt = performance.now() + this.#options.retryDelayMs - this.#options.intervalMs;
      this.#again = true;
    }
  }
}
