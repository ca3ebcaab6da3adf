import type { Delivery } from '../consumer/pipeline.js';
import type { IncomingMessage } from '../port.js';
import type { TrackedRecord } from './partition-tracker.js';

/** What a partition does when one of its deliveries settles or is released. Shared by its deliveries. */
export interface PartitionHooks {
  settled(record: TrackedRecord): void;
  released(record: TrackedRecord): void;
  valid(): boolean;
  /** Failed attempts remembered for the record at this offset (earlier deliveries of it). */
  failedBefore(offset: number): number;
  failed(offset: number, attempt: number): void;
}

/**
 * One Kafka record handed to the pipeline; also its entry in the partition's tracker. A class rather
 * than an object of closures: the consume path creates one per record.
 */
export class PartitionDelivery implements Delivery, TrackedRecord {
  readonly message: IncomingMessage;
  readonly offset: number;
  settled = false;
  readonly #hooks: PartitionHooks;

  constructor(message: IncomingMessage, offset: number, hooks: PartitionHooks) {
    this.message = message;
    this.offset = offset;
    this.#hooks = hooks;
  }

  settle(): void {
    this.#hooks.settled(this);
  }

  release(): void {
    this.#hooks.released(this);
  }

  isValid(): boolean {
    return this.#hooks.valid();
  }

  failedBefore(): number {
    return this.#hooks.failedBefore(this.offset);
  }

  failed(attempt: number): void {
    this.#hooks.failed(this.offset, attempt);
  }
}
