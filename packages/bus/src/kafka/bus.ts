import { Kafka } from 'kafkajs';
import type { Logger } from '@concord/core';
import { deadLetterMessage } from '../consumer/dead-letter.js';
import { busClosedError, promised } from '../errors.js';
import { dlqTopic } from '../port.js';
import type {
  MessageBus,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicDeclaration,
} from '../port.js';
import { assertGroup, assertPublishable, assertTopic } from '../validation.js';
import { KAFKA_FEATURES } from './features.js';
import { kafkaLogCreator } from './log-creator.js';
import { resolveKafkaOptions } from './options.js';
import { noDelaySocketFactory } from './socket.js';
import type { KafkaBusOptions, ResolvedKafkaOptions } from './options.js';
import { KafkaPublisher } from './publisher.js';
import { KafkaSubscription } from './subscription.js';
import { TopicAdmin } from './topics.js';

/**
 * The Kafka adapter (DESIGN §4): topic name = topic, message key = key, `message-id` and the caller's
 * headers as record headers; an idempotent producer with `acks=all`; one consumer group per `group`
 * committing offsets only after the handler (or the dead-lettering) succeeded; per-key order with
 * partitions and keys handled concurrently; dead letters on `<topic>.dlq`. Topics are created on first
 * use with `partitions` partitions. The producer connects in the background; `isReady()` says when it has.
 */
export const createKafkaBus = (options: KafkaBusOptions): MessageBus =>
  new KafkaBus(resolveKafkaOptions(options));

class KafkaBus implements MessageBus {
  readonly name = 'kafka';
  readonly features = KAFKA_FEATURES;
  readonly #options: ResolvedKafkaOptions;
  readonly #logger: Logger;
  readonly #topics: TopicAdmin;
  readonly #publisher: KafkaPublisher;
  readonly #kafka: Kafka;
  readonly #subscriptions = new Set<KafkaSubscription>();
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedKafkaOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ bus: 'kafka' });
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logCreator: kafkaLogCreator(this.#logger),
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
      socketFactory: noDelaySocketFactory,
    });
    this.#topics = new TopicAdmin({
      kafka: this.#kafka,
      partitions: options.partitions,
      replicationFactor: options.replicationFactor,
      logger: this.#logger,
      timers: options.timers,
      leaderTimeoutMs: options.publishTimeoutMs,
    });
    this.#publisher = new KafkaPublisher({
      kafka: this.#kafka,
      logger: this.#logger,
      publishTimeoutMs: options.publishTimeoutMs,
      maxRequestBytes: options.maxRequestBytes,
      timers: options.timers,
    });
    this.#publisher.start();
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      assertPublishable(topic, messages, this.#options.maxMessageBytes);
      await this.#topics.ensure([topic]);
      await this.#publisher.publish(topic, messages);
    });
  }

  /** Creates the topics (each with its `<topic>.dlq`); groups need nothing ahead of their first subscribe. */
  declare(topology: readonly TopicDeclaration[]): Promise<void> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      for (const { topic, groups } of topology) {
        assertTopic(topic);
        for (const group of groups) assertGroup(group);
      }
      await this.#topics.ensure(topology.map(({ topic }) => topic));
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return promised(async () => {
      if (this.#closing !== undefined) throw busClosedError();
      assertGroup(options.group);
      for (const topic of options.topics) assertTopic(topic);
      await this.#topics.ensure(options.topics);
      const subscription: KafkaSubscription = new KafkaSubscription({
        kafka: this.#kafka,
        bus: this.#options,
        subscribe: options,
        deadLetter: async (message, cause) => {
          const topic = dlqTopic(message.topic);
          await this.#topics.ensure([topic]);
          await this.#publisher.publish(topic, [deadLetterMessage(message, cause)]);
        },
        onClosed: () => this.#subscriptions.delete(subscription),
      });
      this.#subscriptions.add(subscription);
      await subscription.start();
      return subscription;
    });
  }

  isReady(): boolean {
    return this.#closing === undefined && this.#publisher.healthy;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Subscriptions first: their handlers may still dead-letter through the publisher.
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#publisher.close(this.#options.drainTimeoutMs);
    await this.#topics.close();
    this.#logger.debug({}, 'kafka bus closed');
  }
}
