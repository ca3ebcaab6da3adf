import type { Logger } from '@concord/core';
import type { Channel, ChannelModel, Options } from 'amqplib';
import { settlesWithin } from '../timers.js';
import type { Timers } from '../timers.js';
import type { ConsumerChannel } from './consumer-channel.js';
import type { ShardPort } from './shard-assigner.js';
import { claimQueue, membersQueue, shardQueue } from './shards.js';
import { assertShardQueue } from './topology.js';

/**
 * The members and claim queues: classic (quorum queues in RabbitMQ 3.10 ignore consumer exclusivity,
 * and count only the active consumer of a single-active-consumer queue), not durable, holding no
 * message, and deleted by the broker after 10 minutes without a consumer.
 */
const CONTROL_QUEUE: Options.AssertQueue = {
  durable: false,
  autoDelete: false,
  arguments: { 'x-queue-type': 'classic', 'x-expires': 600_000 },
};

/** 403 ACCESS_REFUSED: `basic.consume` with `exclusive` on a queue that has a consumer already. */
const isAccessRefused = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 403;

export interface ShardLeasesOptions {
  readonly connection: ChannelModel;
  readonly exchange: string;
  readonly group: string;
  readonly topic: string;
  readonly drainTimeoutMs: number;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Starts consuming `queue` on `channel` into the subscription's pipeline. */
  readonly consume: (channel: Channel, queue: string) => Promise<ConsumerChannel>;
  /** A held shard's channel went away without a release (channel error, queue deleted, connection lost). */
  readonly onLost: (shard: number) => void;
}

/**
 * The broker side of shard assignment for one group and topic on one connection ({@link ShardPort}).
 *
 * - Membership: a channel of its own consumes `<group>.<topic>~members`; the queue's consumer count is
 *   the number of live members, and a member whose connection dies drops out with it.
 * - A claim: a fresh channel consumes `<group>.<topic>.<n>~claim` with an exclusive consumer — the broker
 *   refuses (403, closing that channel) when another member has it — then consumes the shard queue on
 *   the same channel. The channel is the lease: closing it gives up the claim and returns the shard's
 *   unacknowledged messages at once.
 * - A release: no delivery of the shard starts any more, its running handlers finish (within
 *   `drainTimeoutMs`), its acks go out, then its channel closes, so the next owner gets the returned
 *   messages first (and being the shard queue's single active consumer, nothing before them).
 */
export class ShardLeases implements ShardPort {
  readonly #options: ShardLeasesOptions;
  readonly #leases = new Map<number, ConsumerChannel>();
  #control: Promise<Channel> | undefined;
  #stopped = false;

  constructor(options: ShardLeasesOptions) {
    this.#options = options;
  }

  /** The channels of the shards held now. */
  get consumers(): ConsumerChannel[] {
    return [...this.#leases.values()];
  }

  async members(): Promise<number> {
    const channel = await this.#controlChannel();
    const { group, topic } = this.#options;
    return (await channel.assertQueue(membersQueue(group, topic), CONTROL_QUEUE)).consumerCount;
  }

  async claimed(shard: number): Promise<boolean> {
    const channel = await this.#controlChannel();
    const { group, topic } = this.#options;
    return (await channel.assertQueue(claimQueue(group, topic, shard), CONTROL_QUEUE)).consumerCount > 0;
  }

  async claim(shard: number): Promise<boolean> {
    if (this.#stopped) return false;
    const { connection, exchange, group, topic, logger } = this.#options;
    const channel = await connection.createChannel();
    channel.on('error', (error: unknown) => {
      if (!isAccessRefused(error)) logger.warn({ err: error, shard }, 'shard channel error');
    });
    try {
      const claim = claimQueue(group, topic, shard);
      await channel.assertQueue(claim, CONTROL_QUEUE);
      await channel.consume(claim, () => undefined, { noAck: true, exclusive: true });
    } catch (error) {
      await channel.close().catch(() => undefined);
      if (isAccessRefused(error)) return false; // another member holds it
      throw error;
    }
    let consumer: ConsumerChannel;
    try {
      await assertShardQueue(channel, { exchange, group, topic, shard });
      consumer = await this.#options.consume(channel, shardQueue(group, topic, shard));
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    channel.on('close', () => {
      if (this.#leases.get(shard) !== consumer) return; // released, or replaced
      this.#leases.delete(shard);
      logger.warn({ shard }, 'lost a shard (its channel closed); it is claimed again');
      this.#options.onLost(shard);
    });
    if (this.#stopped || !consumer.live) {
      await consumer.close();
      return false;
    }
    this.#leases.set(shard, consumer);
    logger.info({ shard }, 'claimed a shard');
    return true;
  }

  async release(shard: number): Promise<void> {
    const consumer = this.#leases.get(shard);
    if (consumer === undefined) return;
    this.#leases.delete(shard);
    consumer.stop();
    const { timers, drainTimeoutMs, logger } = this.#options;
    if (!(await settlesWithin(timers, consumer.idle(), drainTimeoutMs))) {
      logger.warn(
        { shard, running: consumer.running, drainTimeoutMs },
        'handlers of a released shard still run after the drain deadline; giving it up anyway',
      );
    }
    await consumer.close();
  }

  /**
   * Leaves the group: the membership consumer goes at once (the others count one member less), and no
   * delivery of a held shard starts any more. The caller drains its handlers, then calls {@link close}.
   */
  stop(): void {
    this.#stopped = true;
    for (const consumer of this.#leases.values()) consumer.stop();
    const control = this.#control;
    this.#control = undefined;
    void control?.then(
      (channel) => channel.close().catch(() => undefined),
      () => undefined,
    );
  }

  /** Closes the held shards' channels (their unacknowledged messages go back in order). */
  async close(): Promise<void> {
    this.stop();
    const held = [...this.#leases.values()];
    this.#leases.clear();
    await Promise.all(held.map((consumer) => consumer.close()));
  }

  /** The channel that consumes the members queue and asks for counts; opened again after a failure. */
  #controlChannel(): Promise<Channel> {
    if (this.#stopped) return Promise.reject(new Error('shard leases stopped'));
    const opening = (this.#control ??= this.#openControl());
    opening.catch(() => {
      if (this.#control === opening) this.#control = undefined;
    });
    return opening;
  }

  async #openControl(): Promise<Channel> {
    const { connection, group, topic, logger } = this.#options;
    const channel = await connection.createChannel();
    const opened = this.#control; // set by now: this runs after the first await
    channel.on('error', (error: unknown) => logger.warn({ err: error }, 'shard membership channel error'));
    channel.on('close', () => {
      if (this.#control === opened) this.#control = undefined;
    });
    try {
      const queue = membersQueue(group, topic);
      await channel.assertQueue(queue, CONTROL_QUEUE);
      await channel.consume(queue, () => undefined, { noAck: true });
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    return channel;
  }
}
