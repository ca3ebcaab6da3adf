import type { Logger } from '@concord/core';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { busClosedError, busUnavailableError } from '../errors.js';
import type { OutgoingMessage } from '../port.js';
import type { Timers } from '../timers.js';
import type { UnroutableTopics } from '../unroutable.js';
import { content, publishOptions } from './codec.js';
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
  readonly routingKey: string;
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
 * Messages are `mandatory`: one that no queue takes comes back (basic.return, just before its confirm),
 * and its batch rejects with the retryable `CONCORD_BUS_UNROUTABLE` rather than resolving for a message
 * the broker dropped. The caller (an outbox relay) keeps it and tries again.
 */
export class RabbitPublisher {
  readonly #options: PublisherOptions;
  #channel: ConfirmChannel | undefined;
  /** Messages the current channel returned whose confirm has not come yet, by {@link returnKey}. */
  #returned = new Map<string, number>();
  #waiting: Entry[] = [];
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
        this.#send({
          routingKey: topic,
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
  }

  /** Resolves once no batch is pending (settled either way). */
  async idle(): Promise<void> {
    const batches = [...this.#batches].map(
      (batch) => new Promise<void>((resolve) => (batch.onSettled = resolve)),
    );
    await Promise.all(batches);
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
        else if (returned.size > 0 && this.#takeReturned(returned, entry)) this.#unroutable(entry);
        else this.#confirmed(entry);
      },
    );
    if (!written) this.#full = true;
  }

  #confirmed(entry: Entry): void {
    this.#options.unroutable.routed(entry.routingKey);
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
    const error = this.#options.unroutable.refused(entry.routingKey, 1);
    this.#fail(entry.batch, error);
  }

  #fail(batch: Batch, error: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    this.#options.timers.clearTimeout(batch.timer);
    this.#batches.delete(batch);
    batch.reject(error);
    batch.onSettled?.();
  }

  /** Nacked, or the channel closed before the confirm: publish again once a channel is there. */
  #retry(entry: Entry): void {
    if (entry.batch.settled) return;
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
      if (entry.batch.settled) continue;
      if (this.#channel === undefined || this.#blocked || this.#full || this.#closed) {
        this.#waiting.push(...waiting.slice(index).filter((e) => !e.batch.settled));
        return;
      }
      this.#send(entry);
    }
  }
}
