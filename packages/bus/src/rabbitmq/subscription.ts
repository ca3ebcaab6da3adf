import { backoffDelay } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { AttemptLog } from '../consumer/attempt-log.js';
import { retryBackoff } from '../consumer/backoff.js';
import type { DeadLetterCause } from '../consumer/dead-letter.js';
import type { ConsumerObserver } from '../consumer/observer.js';
import { ConsumerPipeline, DEFAULT_CONCURRENCY } from '../consumer/pipeline.js';
import type { IncomingMessage, SubscribeOptions, Subscription } from '../port.js';
import type { Timers } from '../timers.js';
import { incomingMessage } from './codec.js';
import { ConsumerChannel } from './consumer-channel.js';
import { ShardAssigner } from './shard-assigner.js';
import { ShardLeases } from './shard-leases.js';
import { topicShards } from './shards.js';
import { assertExchange, assertGroupTopology } from './topology.js';

export interface RabbitSubscriptionOptions {
  readonly subscribe: SubscribeOptions;
  readonly exchange: string;
  readonly prefetch: number | undefined;
  readonly singleActiveConsumer: boolean;
  readonly shards: number;
  readonly rebalanceIntervalMs: number;
  readonly drainTimeoutMs: number;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly observer: ConsumerObserver | undefined;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** The bus's live connection, if any. */
  readonly connection: () => ChannelModel | undefined;
  readonly deadLetter: (message: IncomingMessage, cause: DeadLetterCause) => Promise<void>;
  readonly onClosed: (subscription: RabbitSubscription) => void;
}

/** The shards of one sharded topic on one connection: what decides which to hold, and the held ones. */
interface ShardedTopic {
  readonly topic: string;
  readonly assigner: ShardAssigner;
  readonly leases: ShardLeases;
}

/**
 * One `subscribe` call on RabbitMQ: the consumer of a set of queues, feeding the shared
 * {@link ConsumerPipeline}. One channel (with prefetch) consumes the group's lane `<group>.<topic>` of
 * every topic; for a sharded topic, a {@link ShardAssigner} claims this member's share of the shard
 * queues `<group>.<topic>.<n>`, each consumed on a channel of its own ({@link ShardLeases}). Acks go
 * after the handler succeeded or the dead letter was confirmed, through each channel's `ChannelAcks`.
 *
 * The lane channel is re-created after a channel error or a consumer cancellation by the broker (queue
 * deleted, node down); the shards start over on every new connection, and a lost shard is claimed again
 * at the next balancing pass. Deliveries of a dead or released channel are skipped: the broker
 * redelivers them, and per-key order holds because the dispatcher queues them behind the key's running
 * handler. A failed handler is retried in place, and so is a dead letter the broker did not confirm, so
 * a later message of the key never goes first. A redelivered message goes on counting its attempts:
 * the larger of 1 + `x-delivery-count` and one past the attempts this subscription saw fail.
 */
export class RabbitSubscription implements Subscription {
  readonly #options: RabbitSubscriptionOptions;
  readonly #pipeline: ConsumerPipeline;
  readonly #prefetch: number;
  readonly #attempts = new AttemptLog();
  #lanes: ConsumerChannel | undefined;
  #generation = 0;
  #sharded: ShardedTopic[] = [];
  /** The connection the shards are held on. */
  #shardedOn: ChannelModel | undefined;
  #failures = 0;
  #closing: Promise<void> | undefined;

  constructor(options: RabbitSubscriptionOptions) {
    this.#options = options;
    const { subscribe } = options;
    const concurrency = subscribe.concurrency ?? DEFAULT_CONCURRENCY;
    this.#prefetch = options.prefetch ?? Math.max(100, concurrency * 4);
    this.#pipeline = new ConsumerPipeline({
      group: subscribe.group,
      handler: subscribe.handler,
      concurrency,
      logger: options.logger,
      deadLetter: options.deadLetter,
      timers: options.timers,
      random: options.random,
      system: 'rabbitmq',
      ...(options.observer === undefined ? {} : { observer: options.observer }),
      ...(subscribe.retry === undefined ? {} : { retry: subscribe.retry }),
    });
  }

  /** The shards this subscription holds now, by topic (sharded topics only). */
  get shards(): ReadonlyMap<string, readonly number[]> {
    return new Map(this.#sharded.map(({ topic, assigner }) => [topic, [...assigner.held]]));
  }

  /**
   * Opens the lane channel on `connection`, declares the topology and starts consuming; on a connection
   * the shards are not held on yet, starts claiming them (resolves after the first balancing pass).
   */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.#closing !== undefined) return;
    const generation = ++this.#generation;
    const channel = await connection.createChannel();
    // Set before consuming: deliveries can arrive before `consume` resolves.
    const lanes = new ConsumerChannel(channel, this.#options.logger);
    this.#lanes = lanes;
    channel.on('error', (error: unknown) =>
      this.#options.logger.warn(
        { err: error, group: this.#options.subscribe.group },
        'consumer channel error',
      ),
    );
    channel.on('close', () => {
      if (generation !== this.#generation || this.#closing !== undefined) return;
      this.#lanes = undefined;
      this.#scheduleReattach(connection, generation);
    });
    await channel.prefetch(this.#prefetch);
    await assertExchange(channel, this.#options.exchange);
    for (const topic of new Set(this.#options.subscribe.topics)) {
      const queue = await assertGroupTopology(channel, {
        exchange: this.#options.exchange,
        group: this.#options.subscribe.group,
        topic,
        singleActiveConsumer: this.#options.singleActiveConsumer,
        shards: this.#options.shards,
      });
      await channel.consume(queue, (delivery) =>
        this.#onDelivery(lanes, topic, delivery, () => this.#lanesCancelled(lanes, generation)),
      );
    }
    if (generation !== this.#generation) return;
    this.#failures = 0;
    if (this.#shardedOn !== connection) await this.#startShards(connection);
  }

  /** Stops consuming, drains in-flight handlers within the drain deadline, closes the channels. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const lanes = this.#lanes;
    const sharded = this.#sharded;
    // No consumer is cancelled: see ConsumerChannel. Nothing starts any more; running handlers finish.
    lanes?.stop();
    const stopping = sharded.map(({ assigner, leases }) => {
      leases.stop();
      return assigner.stop();
    });
    await this.#pipeline.close(this.#options.drainTimeoutMs);
    this.#generation += 1;
    this.#lanes = undefined;
    await Promise.all([lanes?.close(), ...sharded.map(({ leases }) => leases.close()), ...stopping]);
    this.#options.onClosed(this);
  }

  /** Stops the shards held on an earlier connection (gone) and starts claiming on `connection`. */
  async #startShards(connection: ChannelModel): Promise<void> {
    for (const { assigner, leases } of this.#sharded) {
      void assigner.stop();
      void leases.close();
    }
    this.#shardedOn = connection;
    const { subscribe, shards } = this.#options;
    this.#sharded = [...new Set(subscribe.topics)]
      .filter((topic) => topicShards(topic, shards) > 1)
      .map((topic) => {
        const logger = this.#options.logger.child({ topic });
        const leases = new ShardLeases({
          connection,
          exchange: this.#options.exchange,
          group: subscribe.group,
          topic,
          drainTimeoutMs: this.#options.drainTimeoutMs,
          timers: this.#options.timers,
          logger,
          consume: (channel, queue) => this.#consumeShard(channel, topic, queue),
          onLost: (shard) => assigner.lost(shard), // only ever called once a claim went through
        });
        const assigner = new ShardAssigner({
          shards: topicShards(topic, shards),
          port: leases,
          intervalMs: this.#options.rebalanceIntervalMs,
          timers: this.#options.timers,
          random: this.#options.random,
          logger,
        });
        return { topic, assigner, leases };
      });
    await Promise.all(this.#sharded.map(({ assigner }) => assigner.start()));
  }

  /** Consumes a claimed shard queue on its own channel. */
  async #consumeShard(channel: Channel, topic: string, queue: string): Promise<ConsumerChannel> {
    const consumer = new ConsumerChannel(channel, this.#options.logger);
    await channel.prefetch(this.#prefetch);
    await channel.consume(queue, (delivery) =>
      this.#onDelivery(consumer, topic, delivery, () => {
        this.#options.logger.warn({ queue }, 'RabbitMQ cancelled the consumer of a shard; claiming it again');
        void consumer.close();
      }),
    );
    return consumer;
  }

  /** The broker cancelled a lane consumer (queue deleted, node down): consume on a new channel. */
  #lanesCancelled(lanes: ConsumerChannel, generation: number): void {
    this.#options.logger.warn(
      { group: this.#options.subscribe.group },
      'RabbitMQ cancelled the consumer; re-subscribing',
    );
    if (generation !== this.#generation || this.#closing !== undefined) return;
    this.#generation += 1; // skip this channel's deliveries: closing it requeues them
    this.#lanes = undefined;
    void lanes.close();
    this.#scheduleReattach(undefined, this.#generation);
  }

  #onDelivery(
    consumer: ConsumerChannel,
    topic: string,
    delivery: ConsumeMessage | null,
    cancelled: () => void,
  ): void {
    if (delivery === null) {
      cancelled();
      return;
    }
    const tag = delivery.fields.deliveryTag;
    const { acks } = consumer;
    acks.delivered(tag);
    const message = incomingMessage(delivery, topic);
    const attempts = this.#attempts;
    let started = false;
    this.#pipeline.submit(
      {
        message,
        isValid: () => consumer.live,
        signal: consumer.signal,
        started: () => {
          started = true;
          consumer.started();
        },
        failedBefore: () => attempts.failedBefore(message.id),
        failed: (attempt) => attempts.failed(message.id, attempt),
        settle: () => {
          attempts.settled(message.id);
          acks.ack(tag);
        },
        release: () => {
          if (!consumer.live) return;
          consumer.channel.nack(delivery, false, true);
          acks.released(tag);
        },
      },
      () => {
        if (started) consumer.finished();
      },
    );
  }

  /** After a channel failure: wait with backoff, then re-attach on the live connection, if any. */
  #scheduleReattach(failed: ChannelModel | undefined, generation: number): void {
    this.#failures += 1;
    const { reconnect } = this.#options;
    const delay = Math.max(
      reconnect.initialDelayMs,
      backoffDelay(this.#failures, retryBackoff(reconnect), this.#options.random),
    );
    this.#options.timers.setTimeout(() => {
      const connection = this.#options.connection();
      // A new connection re-attaches every subscription itself; only a failed channel on a live one is ours.
      if (connection === undefined || generation !== this.#generation || this.#closing !== undefined) return;
      if (failed !== undefined && connection !== failed) return;
      this.attach(connection).catch((error: unknown) => {
        this.#options.logger.warn({ err: error }, 'could not re-subscribe; retrying');
        this.#scheduleReattach(connection, this.#generation);
      });
    }, delay);
  }
}
