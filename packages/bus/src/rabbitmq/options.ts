import type { ConsumerObserver } from '../consumer/observer.js';
import type { Logger } from '@concord/core';
import type { PublishObserver } from '../port.js';
import type { Timers } from '../timers.js';

export interface RabbitMqBusOptions {
  /** `amqp://user:pass@host:5672/vhost`. */
  readonly url: string;
  /** The durable topic exchange every message goes through. Default `concord` (tests use unique ones). */
  readonly exchange?: string;
  readonly logger?: Logger;
  /** Unacknowledged deliveries per subscription (AMQP prefetch). Default: max(100, 4 × concurrency). */
  readonly prefetch?: number;
  /** Largest message accepted (payload, key and headers). Default 1 000 000 bytes. */
  readonly maxMessageBytes?: number;
  /** How long `close()` waits for in-flight handlers and unconfirmed publishes. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /**
   * How long `publish` waits for confirms (across reconnects) before it rejects with the retryable
   * `CONCORD_BUS_UNAVAILABLE`. Default 30 s.
   */
  readonly publishTimeoutMs?: number;
  /** How long `createRabbitMqBus` keeps trying to make the first connection. Default 30 s. */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff (full jitter). Default 100 ms doubling up to 5 s. */
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * Declare group queues with `x-single-active-consumer`: one member of a group consumes at a time
   * (the others stand by), so per-key order also holds across members. Default false: members compete
   * for messages and share the work; per-key order then holds within each member. A queue's arguments
   * are fixed when it is first declared — by its group, or by a producer's `declare` — so every service
   * of a deployment uses the same setting.
   */
  readonly singleActiveConsumer?: boolean;
  /** Shown in the RabbitMQ management UI. */
  readonly connectionName?: string;
  readonly timers?: Timers;
  readonly random?: () => number;
  /** Told about every handled message, retry and dead letter of this bus's consumers (metrics). */
  readonly observer?: ConsumerObserver;
  /** Told about messages the broker returned because no queue took them (metrics). */
  readonly publishObserver?: PublishObserver;
}

export interface ResolvedRabbitOptions {
  readonly url: string;
  readonly exchange: string;
  readonly logger: Logger;
  readonly prefetch: number | undefined;
  readonly maxMessageBytes: number;
  readonly drainTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly singleActiveConsumer: boolean;
  readonly connectionName: string;
  readonly timers: Timers;
  readonly random: () => number;
  readonly observer: ConsumerObserver | undefined;
  readonly publishObserver: PublishObserver | undefined;
}

/** Header carrying the message key (AMQP has no key property). */
export const KEY_HEADER = 'x-concord-key';
export const MESSAGE_ID_HEADER = 'message-id';
/** Set by quorum queues on redelivery: how often the message was returned before. */
export const DELIVERY_COUNT_HEADER = 'x-delivery-count';
