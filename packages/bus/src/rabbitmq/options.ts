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
   * Shards of every group queue (DESIGN §4), 1 to 64. A message goes to shard hash(key) mod `shards`
   * (`<group>.<topic>.<n>`); each shard has one consumer at a time, and a group's members share the
   * shards, so they share the work and per-key order holds across them. Dead-letter topics are not
   * sharded. With 1, the bus publishes to and consumes only the lanes `<group>.<topic>`, as before
   * shards. Producers route by it, so every service of a deployment (and every tool that publishes to
   * or consumes its topics) must use the same value; change it only on drained queues. Default 4.
   */
  readonly shards?: number;
  /**
   * Mean pause between two shard balancing passes of a subscription (each drawn from ½ to 1½ of it):
   * how soon a member takes shards that were given up or whose member died. Default 1 500 ms.
   */
  readonly rebalanceIntervalMs?: number;
  /**
   * Declare the lanes `<group>.<topic>` and dead-letter queues with `x-single-active-consumer`: one member
   * of a group consumes each at a time (the others stand by), so per-key order also holds across members
   * for what reaches a lane (messages of producers that do not shard, dead letters). Default false: members
   * compete for a lane's messages. Shard queues always have a single active consumer. A queue's arguments
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
  readonly shards: number;
  readonly rebalanceIntervalMs: number;
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
