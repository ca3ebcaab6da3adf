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
  /** Delay before trying again after a failed commit. */
  readonly retryDelayMs: number;
}

/**
 * Commits the partitions' commit points: one commit request in flight at a time, covering every partition
 * that moved meanwhile, so commits keep up with any consume rate without a request per message. A failed
 * commit (rebalance, broker restart) is tried again later; until then the records stay uncommitted and are
 * delivered again if the partition moves — at least once, never lost.
 */
export class OffsetCommitter {
  readonly #options: OffsetCommitterOptions;
  #running: Promise<void> | undefined;
  #again = false;
  #retryTimer: unknown;

  constructor(options: OffsetCommitterOptions) {
    this.#options = options;
  }

  /** Asks for a commit soon. */
  request(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Commits what is settled now and waits for it. */
  async flush(): Promise<void> {
    this.request();
    while (this.#running !== undefined) await this.#running;
  }

  stop(): void {
    this.#options.timers.clearTimeout(this.#retryTimer);
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#commitOnce();
    } while (this.#again);
  }

  async #commitOnce(): Promise<void> {
    const consumer = this.#options.consumer();
    if (consumer === undefined) return;
    const batch: { tracker: PartitionTracker; offset: bigint }[] = [];
    for (const tracker of this.#options.trackers()) {
      const offset = tracker.uncommitted();
      if (offset !== undefined) batch.push({ tracker, offset });
    }
    if (batch.length === 0) return;
    try {
      await consumer.commitOffsets(
        batch.map(({ tracker, offset }) => ({
          topic: tracker.topic,
          partition: tracker.partition,
          offset: offset.toString(),
        })),
      );
      for (const { tracker, offset } of batch) tracker.committed(offset);
    } catch (error) {
      this.#options.logger.warn(
        { err: error, partitions: batch.length },
        'kafka offset commit failed; will retry',
      );
      this.#options.timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = this.#options.timers.setTimeout(() => this.request(), this.#options.retryDelayMs);
    }
  }
}
