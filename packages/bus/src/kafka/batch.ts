import type { Logger } from '@concord/core';
import type { EachBatchPayload } from 'kafkajs';
import type { ConsumerPipeline, DeliveryOutcome } from '../consumer/pipeline.js';
import type { Timers } from '../timers.js';
import { fromKafkaMessage } from './codec.js';

export interface PartitionBatchOptions {
  readonly payload: EachBatchPayload;
  readonly pipeline: ConsumerPipeline;
  readonly logger: Logger;
  readonly timers: Timers;
  /** See `KafkaBusOptions.detachAfterMs`. */
  readonly detachAfterMs: number;
  /** Aborted when the subscription closes: the batch detaches at once. */
  readonly closing: AbortSignal;
  /** Keeps track of detached batches, so `close()` can wait for their commits. */
  readonly track: (work: Promise<void>) => void;
}

/**
 * Handles one partition's batch. Every record goes to the shared pipeline (per-key order, bounded
 * concurrency across keys and partitions, retry, dead letters). When every record has an outcome, the
 * offset after the longest prefix of handled or dead-lettered records is committed; records released by
 * a stopping consumer stay uncommitted and are fetched again.
 *
 * kafkajs fetches again only after every batch of the previous fetch returned, so a batch that takes
 * longer than `detachAfterMs` (a key in backoff, a slow handler) pauses its partition, returns, and
 * finishes in the background; the partition resumes after its commit. Other partitions keep flowing.
 */
export const handlePartitionBatch = async (options: PartitionBatchOptions): Promise<void> => {
  const { payload, closing } = options;
  const { batch } = payload;
  if (closing.aborted || batch.messages.length === 0) return;
  const completed = processRecords(options).then((settled) => commitPrefix(options, settled));
  if (await finishesAttached(options, completed)) return;
  const resume = payload.pause();
  options.track(completed.finally(resume));
};

/** Submits every record; resolves with, per record, whether it was settled (handled or dead-lettered). */
const processRecords = ({ payload, pipeline }: PartitionBatchOptions): Promise<boolean[]> => {
  const { batch } = payload;
  const position = { topic: batch.topic, partition: batch.partition };
  const settled = batch.messages.map(() => false);
  let remaining = settled.length;
  const isValid = (): boolean => payload.isRunning() && !payload.isStale();
  return new Promise((resolve) => {
    batch.messages.forEach((record, index) => {
      const onDone = (outcome: DeliveryOutcome): void => {
        settled[index] = outcome !== 'released';
        remaining -= 1;
        if (remaining === 0) resolve(settled);
      };
      const delivery = {
        message: fromKafkaMessage(record, position),
        settle: (): void => undefined,
        release: (): void => undefined,
        isValid,
      };
      pipeline.submit(delivery, onDone);
    });
  });
};

const commitPrefix = async (
  { payload, logger }: PartitionBatchOptions,
  settled: boolean[],
): Promise<void> => {
  const { batch } = payload;
  const firstOpen = settled.indexOf(false);
  const last = batch.messages[(firstOpen === -1 ? settled.length : firstOpen) - 1];
  if (last === undefined) return;
  const next = (BigInt(last.offset) + 1n).toString();
  try {
    payload.resolveOffset(last.offset);
    await payload.commitOffsetsIfNecessary({
      topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
    });
  } catch (error) {
    // Not committed: the records are delivered again (at least once), e.g. after a rebalance.
    logger.warn(
      { err: error, topic: batch.topic, partition: batch.partition, offset: next },
      'kafka commit failed',
    );
  }
};

/** True if `work` settles within `detachAfterMs` and before the subscription starts closing. */
const finishesAttached = (
  { timers, detachAfterMs, closing }: PartitionBatchOptions,
  work: Promise<void>,
): Promise<boolean> =>
  new Promise((resolve) => {
    const detach = (): void => {
      timers.clearTimeout(timer);
      resolve(false);
    };
    const timer = timers.setTimeout(() => {
      closing.removeEventListener('abort', detach);
      resolve(false);
    }, detachAfterMs);
    closing.addEventListener('abort', detach, { once: true });
    void work.finally(() => {
      timers.clearTimeout(timer);
      closing.removeEventListener('abort', detach);
      resolve(true);
    });
  });
