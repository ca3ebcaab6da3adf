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
import { ChannelAcks } from './acks.js';
import { incomingMessage } from './codec.js';
import { assertExchange, assertGroupTopology } from './topology.js';

export interface RabbitSubscriptionOptions {
  readonly subscribe: SubscribeOptions;
  readonly exchange: string;
  readonly prefetch: number | undefined;
  readonly singleActiveConsumer: boolean;
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

/**
 * One `subscribe` call on RabbitMQ: a channel with prefetch consuming the group's quorum queue of every
 * topic, feeding the shared {@link ConsumerPipeline}. Acks after the handler succeeded or the dead letter
 * was confirmed, through {@link ChannelAcks} (the acks of a tick in as few frames as possible). The
 * channel is re-created after a reconnect, a channel error, or a consumer cancellation by the broker
 * (queue deleted, node down). Deliveries of a dead channel are skipped: the broker
 * redelivers them, and per-key order holds because the dispatcher queues them behind the key's running
 * handler. A message is given back (nack with requeue) only when the subscription stops: a failed
 * handler is retried in place, and so is a dead letter the broker did not confirm, so a later message
 * of the key never goes first. A redelivered message goes on counting its attempts: the larger of
 * 1 + `x-delivery-count` and one past the attempts this subscription saw fail.
 */
export class RabbitSubscription implements Subscription {
  readonly #options: RabbitSubscriptionOptions;
  readonly #pipeline: ConsumerPipeline;
  readonly #prefetch: number;
  readonly #attempts = new AttemptLog();
  #channel: Channel | undefined;
  #acks: ChannelAcks | undefined;
  #generation = 0;
  #consumerTags: string[] = [];
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

  /** Opens a channel on `connection`, declares the topology and starts consuming. */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.#closing !== undefined) return;
    const generation = ++this.#generation;
    const channel = await connection.createChannel();
    // Set before consuming: deliveries can arrive before `consume` resolves.
    this.#channel = channel;
    const acks = new ChannelAcks(channel, (error) =>
      this.#options.logger.warn(
        { err: error },
        'could not acknowledge deliveries; the broker redelivers them',
      ),
    );
    this.#acks = acks;
    channel.on('error', (error: unknown) =>
      this.#options.logger.warn(
        { err: error, group: this.#options.subscribe.group },
        'consumer channel error',
      ),
    );
    channel.on('close', () => {
      if (generation !== this.#generation || this.#closing !== undefined) return;
      this.#channel = undefined;
      this.#scheduleReattach(connection, generation);
    });
    await channel.prefetch(this.#prefetch);
    await assertExchange(channel, this.#options.exchange);
    const tags: string[] = [];
    for (const topic of new Set(this.#options.subscribe.topics)) {
      const queue = await assertGroupTopology(channel, {
        exchange: this.#options.exchange,
        group: this.#options.subscribe.group,
        topic,
        singleActiveConsumer: this.#options.singleActiveConsumer,
      });
      const { consumerTag } = await channel.consume(queue, (delivery) =>
        this.#onDelivery(channel, acks, generation, delivery),
      );
      tags.push(consumerTag);
    }
    if (generation !== this.#generation) return;
    this.#consumerTags = tags;
    this.#failures = 0;
  }

  /** Stops consuming, drains in-flight handlers within the drain deadline, closes the channel. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const channel = this.#channel;
    if (channel !== undefined) {
      for (const tag of this.#consumerTags) await channel.cancel(tag).catch(() => undefined);
    }
    await this.#pipeline.close(this.#options.drainTimeoutMs);
    this.#acks?.flush();
    this.#generation += 1;
    this.#channel = undefined;
    if (channel !== undefined) await channel.close().catch(() => undefined);
    this.#options.onClosed(this);
  }

  #onDelivery(
    channel: Channel,
    acks: ChannelAcks,
    generation: number,
    delivery: ConsumeMessage | null,
  ): void {
    if (delivery === null) {
      this.#options.logger.warn(
        { group: this.#options.subscribe.group },
        'RabbitMQ cancelled the consumer; re-subscribing',
      );
      if (generation === this.#generation && this.#closing === undefined) {
        this.#generation += 1; // skip this channel's deliveries: closing it requeues them
        this.#channel = undefined;
        channel.close().catch(() => undefined);
        this.#scheduleReattach(undefined, this.#generation);
      }
      return;
    }
    const valid = (): boolean => generation === this.#generation && this.#channel === channel;
    const tag = delivery.fields.deliveryTag;
    acks.delivered(tag);
    const message = incomingMessage(delivery);
    const attempts = this.#attempts;
    this.#pipeline.submit({
      message,
      isValid: valid,
      failedBefore: () => attempts.failedBefore(message.id),
      failed: (attempt) => attempts.failed(message.id, attempt),
      settle: () => {
        attempts.settled(message.id);
        acks.ack(tag);
      },
      release: () => {
        if (!valid()) return;
        channel.nack(delivery, false, true);
        acks.released(tag);
      },
    });
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
