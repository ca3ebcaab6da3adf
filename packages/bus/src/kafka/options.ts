import type { ConsumerObserver } from '../consumer/observer.js';
import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { invalidOptionsError } from '../errors.js';
import type { RetryOptions } from '../port.js';
import { realTimers } from '../timers.js';
import type { Timers } from '../timers.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../validation.js';

/** Options of {@link createKafkaBus}. Only `brokers` is required. */
export interface KafkaBusOptions {
  /** Bootstrap brokers: `['host:9092', …]` or the `KAFKA_BROKERS` form `host:9092,host2:9092`. */
  readonly brokers: readonly string[] | string;
  /** Kafka client id (shows in broker logs and quotas). Default `concord`. */
  readonly clientId?: string;
  /** Partitions of the topics this bus creates (`<topic>` and `<topic>.dlq`). Default 3. */
  readonly partitions?: number;
  /** Replication factor of created topics; -1 takes the broker's `default.replication.factor`. Default -1. */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
  /** Default retry policy of subscriptions that do not set their own. */
  readonly retry?: RetryOptions;
  /** Default handler concurrency of subscriptions that do not set their own. Default 16. */
  readonly concurrency?: number;
  /** Largest message accepted (payload, key and headers). Default 1 MB, Kafka's default limit. */
  readonly maxMessageBytes?: number;
  /** How long `close()` waits for in-flight handlers. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** A publish that the broker has not confirmed after this long fails (retryably). Default 30 s. */
  readonly publishTimeoutMs?: number;
  /** How long `subscribe()` waits for the consumer to join its group. Default 60 s. */
  readonly joinTimeoutMs?: number;
  /** Where a new consumer group starts: `true` at the earliest offset (nothing published before is missed). */
  readonly fromBeginning?: boolean;
  /** Consumer group session timeout. Default 15 s. */
  readonly sessionTimeoutMs?: number;
  /** Consumer heartbeat interval (also how fast members notice a rebalance). Default 1 s. */
  readonly heartbeatIntervalMs?: number;
  /** Longest a fetch waits on the broker for data. Default 500 ms (Kafka's `fetch.max.wait.ms`). */
  readonly maxWaitTimeMs?: number;
  /**
   * Records of one partition fetched and not yet handled before the partition pauses (backpressure while
   * a key retries or handlers are slow); it resumes when half of them are done. Default 5000.
   */
  readonly maxPendingPerPartition?: number;
  /**
   * Least time between two offset commits of a subscription; offsets handled meanwhile go in the next
   * one. Lower means fewer redeliveries after a crash, higher less load on the group coordinator.
   * Default 100 ms.
   */
  readonly commitIntervalMs?: number;
  /** Bytes requested per partition and fetch. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Largest produce request the bus sends; bigger publishes are split. Default 1 MB. */
  readonly maxRequestBytes?: number;
  readonly timers?: Timers;
  /** Uniform in [0, 1); backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Told about every handled message, retry and dead letter of this bus's consumers (metrics). */
  readonly observer?: ConsumerObserver;
}

/** {@link KafkaBusOptions} with every default applied. */
export interface ResolvedKafkaOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly logger: Logger;
  readonly retry: RetryOptions;
  readonly concurrency: number;
  readonly maxMessageBytes: number;
  readonly drainTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly joinTimeoutMs: number;
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxWaitTimeMs: number;
  readonly maxPendingPerPartition: number;
  readonly commitIntervalMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxRequestBytes: number;
  readonly timers: Timers;
  readonly random: () => number;
  readonly observer: ConsumerObserver | undefined;
}

const parseBrokers = (brokers: readonly string[] | string): readonly string[] => {
  const list = (typeof brokers === 'string' ? brokers.split(',') : brokers)
    .map((broker) => broker.trim().replace(/^[a-z]+:\/\//, ''))
    .filter((broker) => broker !== '');
  if (list.length === 0)
    throw invalidOptionsError('kafka: at least one broker address is required', { brokers });
  return Object.freeze(list);
};

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1)
    throw invalidOptionsError(`kafka: ${name} must be an integer >= 1`, { [name]: value });
  return value;
};

export const resolveKafkaOptions = (options: KafkaBusOptions): ResolvedKafkaOptions => {
  const sessionTimeoutMs = positiveInteger('sessionTimeoutMs', options.sessionTimeoutMs ?? 15_000);
  const heartbeatIntervalMs = positiveInteger('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 1_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw invalidOptionsError('kafka: heartbeatIntervalMs must be below sessionTimeoutMs', {
      heartbeatIntervalMs,
      sessionTimeoutMs,
    });
  }
  return Object.freeze({
    brokers: parseBrokers(options.brokers),
    clientId: options.clientId ?? 'concord',
    partitions: positiveInteger('partitions', options.partitions ?? 3),
    replicationFactor: options.replicationFactor ?? -1,
    logger: options.logger ?? silentLogger,
    retry: options.retry ?? {},
    concurrency: positiveInteger('concurrency', options.concurrency ?? 16),
    maxMessageBytes: positiveInteger('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    publishTimeoutMs: positiveInteger('publishTimeoutMs', options.publishTimeoutMs ?? 30_000),
    joinTimeoutMs: positiveInteger('joinTimeoutMs', options.joinTimeoutMs ?? 60_000),
    fromBeginning: options.fromBeginning ?? true,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxWaitTimeMs: positiveInteger('maxWaitTimeMs', options.maxWaitTimeMs ?? 500),
    maxPendingPerPartition: positiveInteger(
      'maxPendingPerPartition',
      options.maxPendingPerPartition ?? 5_000,
    ),
    commitIntervalMs: options.commitIntervalMs ?? 100,
    maxBytesPerPartition: positiveInteger('maxBytesPerPartition', options.maxBytesPerPartition ?? 1_048_576),
    maxRequestBytes: positiveInteger('maxRequestBytes', options.maxRequestBytes ?? 1_000_000),
    timers: options.timers ?? realTimers,
    random: options.random ?? Math.random,
    observer: options.observer,
  });
};
