import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { ChannelModel } from 'amqplib';
import { deadLetterMessage } from '../consumer/dead-letter.js';
import { busClosedError, invalidOptionsError, promised } from '../errors.js';
import { dlqTopic } from '../port.js';
import type { BusFeatures, MessageBus, OutgoingMessage, SubscribeOptions, Subscription } from '../port.js';
import { realTimers, settlesWithin } from '../timers.js';
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
import { RabbitSubscription } from './subscription.js';
import { assertExchange } from './topology.js';

/**
 * Per-key order holds within each subscriber (and across a group's members with `singleActiveConsumer`);
 * consumer groups share work; quorum queues persist messages across broker restarts.
 */
export const RABBITMQ_FEATURES: BusFeatures = { orderedPerKey: true, consumerGroups: true, persistent: true };

const resolve = (options: RabbitMqBusOptions): ResolvedRabbitOptions => {
  const exchange = options.exchange ?? 'concord';
  if (!TOPIC_PATTERN.test(exchange)) throw invalidOptionsError(`Invalid exchange name ${exchange}`);
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
    connectionName: options.connectionName ?? 'concord-bus',
    timers: options.timers ?? realTimers,
    random: options.random ?? Math.random,
    observer: options.observer,
  };
};

/**
 * The RabbitMQ adapter (DESIGN §4): one durable topic exchange (`concord` unless configured), routing
 * key = topic, a durable quorum queue `<group>.<topic>` per consumer group with its dead-letter queue
 * `<group>.<topic>.dlq`, publisher confirms, prefetch, reconnect with backoff (unconfirmed messages are
 * published again), publishing paused while the broker blocks the connection, re-subscription after a
 * consumer cancellation.
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
      return this.#publisher.publish(topic, messages);
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      assertGroup(options.group);
      for (const topic of options.topics) assertTopic(topic);
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

  async #onConnected(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    await assertExchange(channel, this.#options.exchange);
    for (const subscription of this.#subscriptions) await subscription.attach(connection);
    this.#live = connection;
    this.#publisher.setBlocked(false); // a fresh connection starts unblocked
    this.#publisher.attach(channel);
  }
}
