import { createWakeableLoop } from '@concord/bus';
import type { Timers } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import type { NotifierMetrics } from './metrics.js';
import type { JobQueue } from './queue/port.js';
import { deliveryJobId } from './store/deliveries.js';
import type { DeliveryRef, DeliveryStore } from './store/deliveries.js';

export interface DispatcherOptions {
  readonly db: Database;
  readonly deliveries: DeliveryStore;
  readonly queue: JobQueue<DeliveryRef>;
  readonly metrics: NotifierMetrics;
  readonly logger?: Logger;
  /** Deliveries moved per transaction. Default 500. */
  readonly batchSize?: number;
  /** Poll for pending deliveries this often when nothing wakes the dispatcher. Default 1 s. */
  readonly pollIntervalMs?: number;
  readonly timers?: Timers;
}

export interface Dispatcher {
  start(): Promise<void>;
  /** New pending deliveries were committed. */
  wake(): void;
  close(): Promise<void>;
}

/**
 * Moves committed `pending` deliveries into the job queue and marks them `queued` in the same
 * transaction (an outbox for the queue): when Redis is briefly unavailable the rows stay pending and
 * are retried with back-off, so no delivery is lost after the consumer's commit. Job ids are delivery
 * ids (with a replay's token once replayed), so a row enqueued twice (commit failed after the add) is
 * still one job. Several replicas share the rows through `FOR UPDATE SKIP LOCKED`.
 */
export const createDispatcher = (options: DispatcherOptions): Dispatcher => {
  const logger = (options.logger ?? silentLogger).child({ component: 'dispatcher' });
  const batchSize = options.batchSize ?? 500;
  const loop = createWakeableLoop({
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    ...(options.timers === undefined ? {} : { timers: options.timers }),
    step: async () => {
      const moved = await options.deliveries.dispatchPending(options.db, batchSize, (refs) =>
        options.queue.enqueue(refs.map((ref) => ({ id: deliveryJobId(ref), data: ref }))),
      );
      return moved === batchSize;
    },
    onError: (error, failures) => {
      options.metrics.dispatchErrors.inc();
      if (failures === 1 || failures % 20 === 0) {
        logger.warn({ err: error, failures }, 'moving deliveries into the job queue failed; retrying');
      }
    },
  });
  return {
    async start() {
      if (!options.queue.durable) {
        const requeued = await options.deliveries.requeueUnfinished(options.db);
        if (requeued > 0) logger.info({ requeued }, 'unfinished deliveries re-enqueued');
      }
      loop.start();
    },
    wake: () => loop.wake(),
    close: () => loop.close(),
  };
};
