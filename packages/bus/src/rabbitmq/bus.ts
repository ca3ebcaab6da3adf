import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { ChannelModel } from 'amqplib';
import { deadLetterMessage } from '../consumer/dead-letter.js';
import { busClosedError, invalidOptionsError, promised } from '../errors.js';
import { dlqTopic } from '../port.js';
import type {
  BusFeatures,
  MessageBus,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicDeclaration,
} from '../port.js';
import { realTimers, settlesWithin } from '../timers.js';
import { UnroutableTopics } from '../unroutable.js';
import {
  assertGroup,
  assertPublishable,
  assertTopic,
  DEFAULT_MAX_MESSAGE_BYTES,
  TOPIC_PATTERN,
} from '../validation.js';
import { RabbitConnection } from './connection.js';
import type { RabbitMqBusOptions, ResolvedRabbitOptions } from './options.js';
import { RabbitPublisher } from './publisher.js';
import { assertShardableTopic, assertShardQueueNames, DEFAULT_SHARDS, MAX_SHARDS } from './shards.js';
import { RabbitSubscription } from './subscription.js';
import { assertExchange, declareTopology } from './topology.js';

/**
 * Per-key order holds across a group's members (each shard queue has one consumer at a time; the lanes
 * across members with `singleActiveConsumer`); consumer groups share work (the shards); quorum queues persist messages across broker restarts; a message no queue
 * takes is returned (`mandatory`) and its publish fails.
 */
export const RABBITMQ_FEATURES: BusFeatures = {
  orderedPerKey: true,
  consumerGroups: true,
  persistent: true,
  refusesUnroutable: true,
};

const resolve = (options: RabbitMqBusOptions): ResolvedRabbitOptions => {
  const exchange = options.exchange ?? 'concord';
  if (!TOPIC_PATTERN.test(exchange)) throw invalidOptionsError(`Invalid exchange name ${exchange}`);
  const shards = options.shards ?? DEFAULT_SHARDS;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw invalidOptionsError(`shards must be an integer from 1 to ${MAX_SHARDS}`, { shards });
  }
  const rebalanceIntervalMs = options.rebalanceIntervalMs ?? 1_500;
  if (!(rebalanceIntervalMs > 0)) {
    throw invalidOptionsError('rebalanceIntervalMs must be positive', { rebalanceIntervalMs });
  }
  return {
    url: options.url,
    exchange,
    logger: (options.logger ?? silentLogger).child({ bus: 'rabbitmq', exchange }),
    prefetch: options.prefetch,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, ...options.reconnect },
    singleActiveConsumer: options.singleActiveConsumer ?? false,
    shards,
    rebalanceIntervalMs,
    connectionName: options.connectionName ?? 'concord-bus',
    timers: options.timers ?? realTimers,
    random: options.random ?? Math.random,
    observer: options.observer,
    publishObserver: options.publishObserver,
  };
};

/**
 * The RabbitMQ adapter (DESIGN §4): one durable topic exchange (`concord` unless configured); per
 * consumer group and topic, `shards` durable quorum queues `<group>.<topic>.<n>` (routing key
 * `<topic>.<n>`, n from a hash of the key) that the group's members share (`ShardAssigner`), a lane
 * `<group>.<topic>` (routing key = topic) for producers that do not shard, and the dead-letter queue
 * `<group>.<topic>.dlq`; publisher confirms (a key's messages one confirm at a time), prefetch,
 * reconnect with backoff (unconfirmed messages are published again), publishing paused while the broker
 * blocks the connection, re-subscription after a consumer cancellation. Publishes are `mandatory`: a message no queue takes fails its publish with the
 * retryable `CONCORD_BUS_UNROUTABLE`; `declare` creates the queues of the groups that read a topic before
 * they first subscribe, and is repeated on every reconnect before publishing resumes.
 *
 * Retries happen in-process: a failing message is retried with backoff while it holds its key's slot,
 * so later messages of the key wait behind it and per-key order holds; after `maxAttempts` (or at once
 * for a non-retryable error) it is published to `<topic>.dlq` with the error headers, and only then acked.
 * Resolves once connected; rejects with `CONCORD_BUS_UNAVAILABLE` if the broker stays unreachable.
 */
export const createRabbitMqBus = async (options: RabbitMqBusOptions): Promise<MessageBus> => {
  const bus = new RabbitMqBus(resolve(options));
  await bus.start();
  return bus;
};

class RabbitMqBus implements MessageBus {
  readonly name = 'rabbitmq';
  readonly features = RABBITMQ_FEATURES;
  readonly #options: ResolvedRabbitOptions;
  readonly #logger: Logger;
  readonly #connection: RabbitConnection;
  readonly #publisher: RabbitPublisher;
  readonly #subscriptions = new Set<RabbitSubscription>();
  /** Everything `declare` was given (topic → groups), declared again on every new connection. */
  readonly #declared = new Map<string, Set<string>>();
  #live: ChannelModel | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedRabbitOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#publisher = new RabbitPublisher({
      exchange: options.exchange,
      logger: options.logger,
      timers: options.timers,
      publishTimeoutMs: options.publishTimeoutMs,
      shards: options.shards,
      unroutable: new UnroutableTopics(options.logger, options.publishObserver),
      onChannelLost: () => this.#connection.recycle(),
    });
    this.#connection = new RabbitConnection({
      ...options,
      onConnected: (connection) => this.#onConnected(connection),
      onDisconnected: () => {
        this.#live = undefined;
        this.#publisher.detach();
      },
      onBlocked: (blocked) => this.#publisher.setBlocked(blocked),
    });
  }

  start(): Promise<void> {
    return this.#connection.start(this.#options.connectTimeoutMs);
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return promised(() => {
      if (this.#closing !== undefined) throw busClosedError();
      assertPublishable(topic, messages, this.#options.maxMessageBytes);
      assertShardableTopic(topic);
      return this.#publisher.publish(topic, messages);
    });
  }

  /**
   * Declares on the live connection, and remembers the declaration for every later one. While
   * disconnected it resolves at once: nothing is published before the next connection declared it.
   */
  declare(topology: readonly TopicDeclaration[]): Promise<void> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      for (const { topic, groups } of topology) {
        assertTopic(topic);
        assertShardableTopic(topic);
        for (const group of groups) {
          assertGroup(group);
          assertShardQueueNames(group, topic, this.#options.shards);
        }
      }
      for (const { topic, groups } of topology) {
        const known = this.#declared.get(topic) ?? new Set();
        for (const group of groups) known.add(group);
        this.#declared.set(topic, known);
      }
      const live = this.#live;
      if (live !== undefined) await this.#declare(live, topology);
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      assertGroup(options.group);
      for (const topic of options.topics) {
        assertTopic(topic);
        assertShardableTopic(topic);
        assertShardQueueNames(options.group, topic, this.#options.shards);
      }
      const subscription = new RabbitSubscription({
        ...this.#options,
        subscribe: options,
        logger: this.#logger.child({ group: options.group }),
        connection: () => this.#live,
        deadLetter: (message, cause) =>
          this.#publisher.publish(dlqTopic(message.topic), [deadLetterMessage(message, cause)]),
        onClosed: (closed) => this.#subscriptions.delete(closed),
      });
      this.#subscriptions.add(subscription);
      const live = this.#live;
      if (live !== undefined) {
        try {
          await subscription.attach(live);
        } catch (error) {
          await subscription.close();
          throw error;
        }
      }
      return subscription;
    });
  }

  isReady(): boolean {
    return this.#closing === undefined && this.#live !== undefined && this.#publisher.writable;
  }

  /** Stops consuming, drains handlers and unconfirmed publishes within the deadline, closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    const confirmed = await settlesWithin(
      this.#options.timers,
      this.#publisher.idle(),
      this.#options.drainTimeoutMs,
    );
    if (!confirmed) this.#logger.warn({}, 'closing with unconfirmed publishes');
    this.#publisher.close();
    await this.#connection.close();
    this.#live = undefined;
  }

  #declare(connection: ChannelModel, topology: readonly TopicDeclaration[]): Promise<void> {
    return declareTopology(connection, {
      exchange: this.#options.exchange,
      singleActiveConsumer: this.#options.singleActiveConsumer,
      shards: this.#options.shards,
      topology,
      logger: this.#logger,
    });
  }

  async #onConnected(connection: ChannelModel): Promise<void> {
    if (this.#declared.size > 0) {
      const declared = [...this.#declared].map(([topic, groups]) => ({ topic, groups: [...groups] }));
      await this.#declare(connection, declared);
    }
    const channel = await connection.createConfirmChannel();
    await assertExchange(channel, this.#options.exchange);
    for (const subscription of this.#subscriptions) await subscription.attach(connection);
    this.#live = connection;
    this.#publisher.setBlocked(false); // a fresh connection starts unblocked
    this.#publisher.attach(channel);
  }
}
