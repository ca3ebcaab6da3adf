import type { EachBatchPayload } from 'kafkajs';
import type { ConsumerPipeline } from '../consumer/pipeline.js';
import { fromKafkaMessage } from './codec.js';
import type { OffsetCommitter } from './committer.js';
import { PartitionTracker } from './partition-tracker.js';

export interface BatchIntakeOptions {
  readonly pipeline: ConsumerPipeline;
  readonly committer: OffsetCommitter;
  /** A partition with more records in flight than this is paused until half of them settled. */
  readonly maxPendingPerPartition: number;
  /** Aborted when the subscription closes. */
  readonly closing: AbortSignal;
  /** Moves the consumer's fetch position of a partition (kafkajs `consumer.seek`). */
  readonly seek: (position: { topic: string; partition: number; offset: string }) => void;
}

/**
 * Takes kafkajs batches into the shared {@link ConsumerPipeline} without waiting for the handlers, so the
 * fetch loop never stalls behind a slow or retrying key: every partition keeps flowing, and so do the
 * other keys of the same partition (per-key order is the pipeline's job). The batch's offsets are
 * resolved at once — kafkajs only uses them for its next fetch; with auto-commit off nothing commits them —
 * while the {@link OffsetCommitter} commits each partition's settled prefix as handlers finish.
 */
export class BatchIntake {
  readonly #options: BatchIntakeOptions;
  #trackers = new Map<string, PartitionTracker>();

  constructor(options: BatchIntakeOptions) {
    this.#options = options;
  }

  /** The current generation's partitions. */
  trackers(): Iterable<PartitionTracker> {
    return this.#trackers.values();
  }

  /** After a (re)join: records still in flight belong to the old generation and are released, not committed. */
  newGeneration(): void {
    const old = this.#trackers;
    this.#trackers = new Map();
    for (const tracker of old.values()) tracker.markStale();
  }

  take(payload: EachBatchPayload): void {
    const { pipeline, committer, closing, maxPendingPerPartition } = this.#options;
    const { batch } = payload;
    const last = batch.messages[batch.messages.length - 1];
    if (closing.aborted || last === undefined) return;
    const tracker = this.#tracker(batch.topic, batch.partition);
    const position = { topic: batch.topic, partition: batch.partition };
    const isValid = (): boolean => !tracker.stale;
    for (const record of batch.messages) {
      const tracked = tracker.add(record.offset);
      pipeline.submit({
        message: fromKafkaMessage(record, position),
        settle: () => {
          tracker.settle(tracked);
          committer.request();
          if (tracker.isPaused && tracker.pending <= maxPendingPerPartition / 2) tracker.resume();
        },
        release: () => this.#rewind(tracker),
        isValid,
      });
    }
    payload.resolveOffset(last.offset);
    if (!tracker.isPaused && tracker.pending > maxPendingPerPartition) tracker.paused(payload.pause());
  }

  /**
   * A record given back while its partition is still ours (its dead letter could not be published) would
   * never come again, since kafkajs has fetched past it: consume the partition again from the first
   * unsettled record, with a fresh tracker. Records after it that were handled meanwhile come again too.
   */
  #rewind(tracker: PartitionTracker): void {
    const id = trackerId(tracker.topic, tracker.partition);
    if (this.#options.closing.aborted || this.#trackers.get(id) !== tracker) return;
    this.#trackers.delete(id);
    tracker.markStale();
    const offset = tracker.firstOpen();
    if (offset === undefined) return;
    try {
      this.#options.seek({ topic: tracker.topic, partition: tracker.partition, offset: offset.toString() });
    } catch {
      // The consumer is restarting: it resumes from the committed offset anyway.
    }
  }

  #tracker(topic: string, partition: number): PartitionTracker {
    const id = trackerId(topic, partition);
    let tracker = this.#trackers.get(id);
    if (tracker === undefined) {
      tracker = new PartitionTracker(topic, partition);
      this.#trackers.set(id, tracker);
    }
    return tracker;
  }
}

const trackerId = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
