import type { Logger } from '@concord/core';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { busClosedError, busUnavailableError } from '../errors.js';
import type { OutgoingMessage } from '../port.js';
import type { Timers } from '../timers.js';
import type { UnroutableTopics } from '../unroutable.js';
import { content, publishOptions } from './codec.js';
import { shardRoutingKey } from './shards.js';
import { MESSAGE_ID_HEADER } from './options.js';

interface Batch {
  remaining: number;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer?: unknown;
  onSettled?: () => void;
}

interface Entry {
  readonly topic: string;
  /** `<topic>.<shard>`, or the topic when it is not sharded. */
  readonly routingKey: string;
  /** Routing key and message key: the messages of a key, which go out one at a time. */
  readonly chain: string;
  readonly messageId: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
  readonly batch: Batch;
}

export interface PublisherOptions {
  readonly exchange: string;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly publishTimeoutMs: number;
  /** Shards of every group queue: a message goes to routing key `<topic>.<hash(key) mod shards>`. */
  readonly shards: number;
  /** Where messages the broker returned (no queue took them) are reported. */
  readonly unroutable: UnroutableTopics;
  /** Called when the confirm channel fails while the connection may still be up. */
  readonly onChannelLost: () => void;
}

const REPUBLISH_DELAY_MS = 100;

/**
 * Identifies a returned message among the unconfirmed ones: its routing key and message id (from the
 * `message-id` header: the `message_id` property is left out for ids longer than an AMQP shortstr).
 */
const returnKey = (routingKey: string, messageId: string): string => `${routingKey}\n${messageId}`;

const returnedId = (message: Message): string => {
  const id: unknown = (message.properties.headers as Record<string, unknown> | undefined)?.[
    MESSAGE_ID_HEADER
  ];
  return Buffer.isBuffer(id) ? id.toString('utf8') : String(id);
};

/**
 * Publishes through one confirm channel. A batch resolves once the broker confirmed every message;
 * messages that were nacked or unconfirmed when the channel or connection died are published again on
 * the next channel (at least once). While there is no channel, the connection is blocked, or the socket
 * buffer is full, messages wait. A batch that is not confirmed within `publishTimeoutMs` rejects with
 * the retryable `CONCORD_BUS_UNAVAILABLE`.
 *
 * Per-key order: a message goes out only once the previous message of its key (same routing key) is
 * confirmed, returned, or given up with its batch; messages of different keys go out together. A nack
 * does not say that the broker kept none of the messages sent after the nacked one: had the next
 * message of the key been on the wire already, the queue could hold it before the nacked one's
 * republish (a queue that refuses a message when full takes the next once a consumer made room). So
 * the next message of a key waits for the confirm of the one before, and a nacked message is published
 * again ahead of every later message of its key.
 *
 * Messages are `mandatory`: one that no queue takes comes back (basic.return, just before its confirm),
 * and its batch rejects with the retryable `CONCORD_BUS_UNROUTABLE` rather than resolving for a message
 * the broker dropped. The caller (an outbox relay) keeps it and tries again.
 */
export class RabbitPublisher {
  readonly #options: PublisherOptions;
  #channel: ConfirmChannel | undefined;
  /** Messages the current channel returned whose confirm has not come yet, by {@link returnKey}. */
  #returned = new Map<string, number>();
  /** Heads of chains waiting for a writable channel (new, nacked, or unconfirmed on a dead channel). */
  #waiting: Entry[] = [];
  /** By {@link Entry.chain}: the key's message out (or waiting to go), then the ones waiting for its confirm. */
  readonly #chains = new Map<string, Entry[]>();
  #blocked = false;
  #full = false;
  #retryScheduled = false;
  #closed = false;
  readonly #batches = new Set<Batch>();

  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  /** True when a publish would go out right away. */
  get writable(): boolean {
    return this.#channel !== undefined && !this.#blocked && !this.#closed;
  }

  /** Batches not yet confirmed. */
  get pendingBatches(): number {
    return this.#batches.size;
  }

  attach(channel: ConfirmChannel): void {
    this.#channel = channel;
    this.#full = false;
    const returned = new Map<string, number>();
    this.#returned = returned;
    // The broker sends a message's basic.return before its basic.ack, on the same channel, in order.
    channel.on('return', (message: Message) => {
      const key = returnKey(message.fields.routingKey, returnedId(message));
      returned.set(key, (returned.get(key) ?? 0) + 1);
    });
    channel.on('drain', () => {
      if (this.#channel !== channel) return;
      this.#full = false;
      this.#flush();
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      if (!this.#closed) this.#options.onChannelLost();
    });
    channel.on('error', (error: unknown) =>
      this.#options.logger.warn({ err: error }, 'publisher channel error'),
    );
    this.#flush();
  }

  /** The connection went away: wait for the next channel. */
  detach(): void {
    this.#channel = undefined;
  }

  setBlocked(blocked: boolean): void {
    this.#blocked = blocked;
    if (!blocked) this.#flush();
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(busClosedError());
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const batch: Batch = { remaining: messages.length, settled: false, resolve, reject };
      batch.timer = this.#options.timers.setTimeout(
        () =>
          this.#fail(
            batch,
            busUnavailableError(`RabbitMQ did not confirm within ${this.#options.publishTimeoutMs} ms`),
          ),
        this.#options.publishTimeoutMs,
      );
      this.#batches.add(batch);
      for (const message of messages) {
        const routingKey = shardRoutingKey(topic, message.key, this.#options.shards);
        this.#enqueue({
          topic,
          routingKey,
          chain: `${routingKey}\n${message.key}`,
          messageId: message.id,
          content: content(message.payload),
          options: publishOptions(message),
          batch,
        });
      }
    });
  }

  /** Fails every unconfirmed batch with `CONCORD_BUS_CLOSED`; later publishes reject. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const batch of [...this.#batches]) this.#fail(batch, busClosedError());
    this.#waiting = [];
    this.#chains.clear();
  }

  /** Resolves once no batch is pending (settled either way). */
  async idle(): Promise<void> {
    const batches = [...this.#batches].map(
      (batch) => new Promise<void>((resolve) => (batch.onSettled = resolve)),
    );
    await Promise.all(batches);
  }

  /** Sends the message, or queues it behind the unconfirmed message of its key. */
  #enqueue(entry: Entry): void {
    const chain = this.#chains.get(entry.chain);
    if (chain !== undefined) {
      chain.push(entry);
      return;
    }
    this.#chains.set(entry.chain, [entry]);
    this.#send(entry);
  }

  /** The head of its chain is done with (confirmed or nacked after its batch gave up): the next one goes. */
  #next(entry: Entry): void {
    const chain = this.#chains.get(entry.chain);
    if (chain === undefined || chain[0] !== entry) return;
    chain.shift();
    while (chain[0]?.batch.settled === true) chain.shift();
    const next = chain[0];
    if (next === undefined) this.#chains.delete(entry.chain);
    else this.#send(next);
  }

  #send(entry: Entry): void {
    const channel = this.#channel;
    if (channel === undefined || this.#blocked || this.#full || this.#closed) {
      this.#waiting.push(entry);
      return;
    }
    const returned = this.#returned;
    const written = channel.publish(
      this.#options.exchange,
      entry.routingKey,
      entry.content,
      entry.options,
      (error: unknown) => {
        if (error !== null && error !== undefined) this.#retry(entry);
        else {
          if (returned.size > 0 && this.#takeReturned(returned, entry)) this.#unroutable(entry);
          else this.#confirmed(entry);
          this.#next(entry);
        }
      },
    );
    if (!written) this.#full = true;
  }

  #confirmed(entry: Entry): void {
    this.#options.unroutable.routed(entry.topic);
    const batch = entry.batch;
    batch.remaining -= 1;
    if (batch.remaining > 0 || batch.settled) return;
    batch.settled = true;
    this.#options.timers.clearTimeout(batch.timer);
    this.#batches.delete(batch);
    batch.resolve();
    batch.onSettled?.();
  }

  #takeReturned(returned: Map<string, number>, entry: Entry): boolean {
    const key = returnKey(entry.routingKey, entry.messageId);
    const count = returned.get(key);
    if (count === undefined) return false;
    if (count > 1) returned.set(key, count - 1);
    else returned.delete(key);
    return true;
  }

  /** The broker returned the message: its batch fails, retryably (it is not published again here). */
  #unroutable(entry: Entry): void {
    const error = this.#options.unroutable.refused(entry.topic, 1);
    this.#fail(entry.batch, error);
  }

  #fail(batch: Batch, error: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    this.#options.timers.clearTimeout(batch.timer);
    this.#batches.delete(batch);
    this.#dropChains(batch, error);
    batch.reject(error);
    batch.onSettled?.();
  }

  /**
   * A batch given up (timed out, returned, closed) leaves its keys' chains: its messages are dropped
   * from them, and the later messages queued behind them (not sent yet) fail with it, so the caller
   * publishes them again after it, in order. Its messages still on the wire are not waited for: a
   * confirm that never comes (a connection that died without reporting them) must not hold its keys
   * for good; the caller publishes a key's next message only after it published the failed one again.
   */
  #dropChains(batch: Batch, error: Error): void {
    const behind = new Set<Batch>();
    for (const [key, chain] of this.#chains) {
      const first = chain.findIndex((entry) => entry.batch === batch);
      if (first === -1) continue;
      for (const entry of chain.splice(first)) if (entry.batch !== batch) behind.add(entry.batch);
      if (chain.length === 0) this.#chains.delete(key);
    }
    for (const later of behind) this.#fail(later, error);
  }

  /**
   * Nacked, or the channel closed before the confirm: publish again once a channel is there, still ahead
   * of the later messages of its key. If its batch gave up meanwhile, the key's next message goes.
   */
  #retry(entry: Entry): void {
    if (entry.batch.settled) {
      this.#next(entry);
      return;
    }
    this.#waiting.push(entry);
    if (this.#retryScheduled) return;
    this.#retryScheduled = true;
    this.#options.timers.setTimeout(() => {
      this.#retryScheduled = false;
      this.#flush();
    }, REPUBLISH_DELAY_MS);
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let index = 0; index < waiting.length; index += 1) {
      const entry = waiting[index] as Entry;
      if (entry.batch.settled) {
        this.#next(entry);
        continue;
      }
      if (this.#channel === undefined || this.#blocked || this.#full || this.#closed) {
        this.#waiting.push(...waiting.slice(index));
        return;
      }
      this.#send(entry);
    }
  }
}
