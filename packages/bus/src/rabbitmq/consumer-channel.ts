import type { Channel } from 'amqplib';
import type { Logger } from '@concord/core';
import { ChannelAcks } from './acks.js';

/**
 * One AMQP channel a subscription consumes on (its lanes, or one shard), with what the subscription
 * needs to give it up in order: whether its deliveries may still start (`live`), how many of its
 * handlers are running, and a signal that ends their backoff waits.
 *
 * Giving a channel up (`stop`, then `close` once `idle`) never cancels its consumers first: on a quorum
 * queue with a single active consumer, `basic.cancel` makes the next consumer active at once while this
 * channel still holds prefetched messages, so that consumer would take later messages of their keys
 * before they come back. Closing the channel returns every unacknowledged message, in order, in the
 * same step that removes its consumers, and returned messages are served before the rest.
 */
export class ConsumerChannel {
  readonly channel: Channel;
  readonly acks: ChannelAcks;
  readonly #stop = new AbortController();
  #running = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  constructor(channel: Channel, logger: Logger) {
    this.channel = channel;
    this.acks = new ChannelAcks(channel, (error) =>
      logger.warn({ err: error }, 'could not acknowledge deliveries; the broker redelivers them'),
    );
    channel.on('close', () => {
      this.#closed = true;
      this.#stop.abort();
    });
  }

  /** False once stopped or closed: its deliveries that have not started are skipped (the broker returns them). */
  get live(): boolean {
    return !this.#stop.signal.aborted;
  }

  /** Aborted when the channel stops: running handlers' backoff waits end. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  get running(): number {
    return this.#running;
  }

  /** A delivery of this channel started its first attempt. */
  started(): void {
    this.#running += 1;
  }

  /** A delivery that had started is finished (handled, dead-lettered or released). */
  finished(): void {
    this.#running -= 1;
    if (this.#running > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  /** No delivery of this channel starts from now on. */
  stop(): void {
    this.#stop.abort();
  }

  /** Resolves once none of this channel's handlers runs. */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Sends the pending acks and closes the channel: the broker requeues the rest in order. Never rejects. */
  async close(): Promise<void> {
    this.stop();
    if (this.#closed) return;
    this.acks.flush();
    this.#closed = true;
    await this.channel.close().catch(() => undefined);
  }
}
