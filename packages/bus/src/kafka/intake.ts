import type { EachBatchPayload } from 'kafkajs';
import { AttemptLog } from '../consumer/attempt-log.js';
import type { ConsumerPipeline } from '../consumer/pipeline.js';
import { settlesWithin } from '../timers.js';
import type { Timers } from '../timers.js';
import type { TopicPartitions } from './assigner.js';
import { fromKafkaMessage } from './codec.js';
import type { OffsetCommitter } from './committer.js';
import { PartitionDelivery } from './delivery.js';
import type { PartitionHooks } from './delivery.js';
import { PartitionTracker } from './partition-tracker.js';

export interface BatchIntakeOptions {
  readonly pipeline: ConsumerPipeline;
  readonly committer: OffsetCommitter;
  /**
   * Backpressure: a partition with more records in flight than this holds the fetch loop until half
   * of them settled — or, if that takes longer than `stallMs` (a key retrying, a slow handler), is
   * paused and resumed once half of them settled, so the other partitions keep flowing.
   */
  readonly maxPendingPerPartition: number;
  readonly stallMs: number;
  readonly timers: Timers;
  /** Aborted when the subscription closes. */
  readonly closing: AbortSignal;
  /** Moves the consumer's fetch position of a partition (kafkajs `consumer.seek`). */
  readonly seek: (position: { topic: string; partition: number; offset: string }) => void;
  /** How long a member that learns of a rebalance waits for its running handlers before rejoining. */
  readonly revokeTimeoutMs: number;
}

/** The kafkajs error type that means the group is rebalancing while this member is still in it. */
const REBALANCE_IN_PROGRESS = 'REBALANCE_IN_PROGRESS';

/**
 * Takes kafkajs batches into the shared {@link ConsumerPipeline} without waiting for the handlers, so the
 * fetch loop never stalls behind a slow or retrying key: every partition keeps flowing, and so do the
 * other keys of the same partition (per-key order is the pipeline's job). The batch's offsets are
 * resolved at once — kafkajs only uses them for its next fetch; with auto-commit off nothing commits them —
 * while the {@link OffsetCommitter} commits each partition's settled prefix as handlers finish.
 *
 * A rebalance waits for the handlers still running, as far as kafkajs lets it: after each batch the
 * intake sends the heartbeat itself (kafkajs sends one per interval, whoever asks), and when that
 * heartbeat says the group is rebalancing, it gives back the records that have not started, waits for
 * the running ones (up to `revokeTimeoutMs`), commits what they settled, and only then lets kafkajs
 * rejoin — before this member rejoins, no partition of it goes to anyone. A rebalance kafkajs learns of
 * on its own heartbeat (an idle fetch) does not wait; for that, the intake knows across generations
 * which partitions still have records in the pipeline (`busy()`), which the {@link busyStickyAssigner}
 * leaves with this member. It also counts each unsettled record's failed attempts, so a record fetched
 * again after a rebalance goes on counting (`IncomingMessage.attempt`) where its earlier delivery
 * stopped.
 */
export class BatchIntake {
  readonly #options: BatchIntakeOptions;
  #partitions = new Map<string, Partition>();
  /** Records submitted and not yet settled or released, per partition, whatever their generation. */
  readonly #inFlight = new Map<string, { topic: string; partition: number; records: number }>();
  readonly #attempts = new AttemptLog();
  #inFlightTotal = 0;
  #idleWaiters: (() => void)[] = [];
  /** Set once this generation learned of a rebalance: records not started yet are given back. */
  #revoking: Promise<void> | undefined;

  constructor(options: BatchIntakeOptions) {
    this.#options = options;
  }

  /** The current generation's partitions. */
  *trackers(): Iterable<PartitionTracker> {
    for (const { tracker } of this.#partitions.values()) yield tracker;
  }

  /** Partitions with records in the pipeline: running, retrying or waiting behind their key. */
  busy(): TopicPartitions {
    const busy: Record<string, number[]> = {};
    for (const { topic, partition, records } of this.#inFlight.values()) {
      if (records > 0) (busy[topic] ??= []).push(partition);
    }
    return busy;
  }

  /** After a (re)join: records still in flight belong to the old generation and are released, not committed. */
  newGeneration(): void {
    const old = this.#partitions;
    this.#partitions = new Map();
    this.#revoking = undefined;
    for (const { tracker } of old.values()) tracker.markStale();
  }

  async take(payload: EachBatchPayload): Promise<void> {
    const { pipeline, closing, maxPendingPerPartition, stallMs, timers } = this.#options;
    const { batch } = payload;
    const last = batch.messages[batch.messages.length - 1];
    // A batch fetched before a seek of its partition (a rewind) is stale: taking it into the fresh
    // tracker would let that tracker commit past the records the seek goes back for. kafkajs fetches
    // the partition again from the seek.
    if (closing.aborted || last === undefined || payload.isStale()) return;
    const { tracker, hooks } = this.#partition(batch.topic, batch.partition);
    const position = { topic: batch.topic, partition: batch.partition };
    this.#count(batch.topic, batch.partition, batch.messages.length);
    for (const record of batch.messages) {
      const delivery = new PartitionDelivery(
        fromKafkaMessage(record, position),
        Number(record.offset),
        hooks,
      );
      tracker.add(delivery);
      pipeline.submit(delivery);
    }
    payload.resolveOffset(last.offset);
    await this.#heartbeat(payload);
    if (tracker.isPaused || tracker.pending <= maxPendingPerPartition) return;
    const below = Math.floor(maxPendingPerPartition / 2);
    if (await settlesWithin(timers, tracker.drained(below, closing), stallMs)) return;
    if (!tracker.stale && !closing.aborted && tracker.pending > below) tracker.paused(payload.pause());
  }

  /** Sends the heartbeat when one is due; on a rebalance, revokes before rethrowing to kafkajs. */
  async #heartbeat(payload: EachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (error) {
      if ((error as { type?: unknown } | null)?.type === REBALANCE_IN_PROGRESS) {
        this.#revoking ??= this.#revoke();
        await this.#revoking;
      }
      throw error;
    }
  }

  /**
   * The group is rebalancing and this member has not rejoined yet: its partitions are still its own.
   * Records not started yet are given back (their deliveries turn invalid); the running ones may finish
   * and settle, and what they settled is committed, so the partitions' next owners start after them.
   */
  async #revoke(): Promise<void> {
    const { timers, revokeTimeoutMs, committer } = this.#options;
    const idle =
      this.#inFlightTotal === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await settlesWithin(timers, idle, revokeTimeoutMs);
    await settlesWithin(timers, committer.flush(), revokeTimeoutMs);
  }

  /**
   * A record given back while its partition is still ours would never come again, since kafkajs has
   * fetched past it: consume the partition again from the first unsettled record, with a fresh tracker.
   * Records after it that were handled meanwhile come again too. The pipeline gives records back only
   * when it stops or they went stale (a failed dead letter is tried again in place), so this guards a
   * future caller rather than a path taken today.
   */
  #rewind(tracker: PartitionTracker): void {
    const id = trackerId(tracker.topic, tracker.partition);
    if (this.#options.closing.aborted || this.#partitions.get(id)?.tracker !== tracker) return;
    this.#partitions.delete(id);
    tracker.markStale();
    const offset = tracker.firstOpen();
    if (offset === undefined) return;
    try {
      this.#options.seek({ topic: tracker.topic, partition: tracker.partition, offset: String(offset) });
    } catch {
      // The consumer is restarting: it resumes from the committed offset anyway.
    }
  }

  #partition(topic: string, partition: number): Partition {
    const id = trackerId(topic, partition);
    let current = this.#partitions.get(id);
    if (current === undefined) {
      const tracker = new PartitionTracker(topic, partition);
      const resumeBelow = this.#options.maxPendingPerPartition / 2;
      const attempts = this.#attempts;
      const recordId = (offset: number): string => `${id}\u0000${offset}`;
      const hooks: PartitionHooks = {
        settled: (record) => {
          tracker.settle(record);
          this.#count(topic, partition, -1);
          if (attempts.size > 0) attempts.settled(recordId(record.offset));
          this.#options.committer.request();
          if (tracker.isPaused && tracker.pending <= resumeBelow) tracker.resume();
        },
        released: () => {
          this.#count(topic, partition, -1);
          // Revoking gives records back on purpose: the next owner fetches them from the commit.
          if (this.#revoking === undefined) this.#rewind(tracker);
        },
        valid: () => !tracker.stale && this.#revoking === undefined,
        failedBefore: (offset) => (attempts.size === 0 ? 0 : attempts.failedBefore(recordId(offset))),
        failed: (offset, attempt) => attempts.failed(recordId(offset), attempt),
      };
      current = { tracker, hooks };
      this.#partitions.set(id, current);
    }
    return current;
  }

  #count(topic: string, partition: number, records: number): void {
    const id = trackerId(topic, partition);
    const entry = this.#inFlight.get(id);
    if (entry === undefined) this.#inFlight.set(id, { topic, partition, records });
    else entry.records += records;
    this.#inFlightTotal += records;
    if (this.#inFlightTotal > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** A partition of the current generation: its tracker and the hooks its deliveries share. */
interface Partition {
  readonly tracker: PartitionTracker;
  readonly hooks: PartitionHooks;
}

const trackerId = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
