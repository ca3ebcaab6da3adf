import type { Database } from '@concord/outbox';
import { createBatcher } from '@concord/service-kit';
import type { DeliveredMark, DeliveryStore, DeliveryWork } from '../store/deliveries.js';

export interface DeliveryBatchesOptions {
  readonly db: Database;
  readonly deliveries: DeliveryStore;
  /** Most deliveries one statement reads or marks. Default 200. */
  readonly maxBatch?: number;
  /** Statements of each kind running at once (each holds a pool connection). Default 2. */
  readonly maxInFlight?: number;
}

/**
 * The statements of concurrent delivery attempts, shared: attempts that start (or succeed) while a read
 * (or a mark) is running go together in the next one, so Postgres sees a statement per batch rather than
 * per attempt and an attempt waits for no more than the statement before its own.
 */
export interface DeliveryBatches {
  /** The delivery's target and notification; undefined once the delivery is gone. */
  load(deliveryId: string): Promise<DeliveryWork | undefined>;
  /** Resolves once the delivery is recorded delivered. */
  markDelivered(mark: DeliveredMark): Promise<void>;
  /** Runs what is waiting, waits for what runs; later calls fail retryably. Idempotent. */
  close(): Promise<void>;
}

export const createDeliveryBatches = (options: DeliveryBatchesOptions): DeliveryBatches => {
  const { db, deliveries } = options;
  const settings = {
    maxItems: options.maxBatch ?? 200,
    maxInFlight: options.maxInFlight ?? 2,
    lingerMs: 0,
    size: () => 1,
  };
  const loads = createBatcher<string, DeliveryWork | undefined>({
    ...settings,
    spanName: 'load deliveries',
    async commit(ids) {
      const work = await deliveries.load(db, ids);
      return ids.map((id) => work.get(id));
    },
  });
  const marks = createBatcher<DeliveredMark, undefined>({
    ...settings,
    spanName: 'mark deliveries delivered',
    async commit(delivered) {
      await deliveries.markDelivered(db, delivered);
      return delivered.map(() => undefined);
    },
  });
  let closing: Promise<void> | undefined;
  return {
    load: (deliveryId) => loads.submit(deliveryId),
    markDelivered: (mark) => marks.submit(mark),
    close() {
      closing ??= Promise.all([loads.close(), marks.close()]).then(() => undefined);
      return closing;
    },
  };
};
