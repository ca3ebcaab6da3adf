import type { Logger } from '@concord/core';
import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { busClosedError, busUnavailableError } from '../errors.js';
import type { OutgoingMessage } from '../port.js';
import { settlesWithin, sleep } from '../timers.js';
import type { Timers } from '../timers.js';
import { toKafkaMessage } from './codec.js';

export interface KafkaPublisherOptions {
  readonly kafka: Kafka;
  readonly logger: Logger;
  readonly publishTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly timers: Timers;
}

/** One publish call; its chunks share the outcome. */
interface Call {
  failed: boolean;
}

/** Part of one publish call that fits one produce request. */
interface Chunk {
  readonly call: Call;
  readonly topic: string;
  readonly messages: Message[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Publishes through one idempotent kafkajs producer with `acks=all`. Sends are serialized — concurrent
 * sends of an idempotent producer can break its sequence numbers — and whatever queued up meanwhile
 * goes out together in the next request (group commit), split at `maxRequestBytes`. A call resolves once
 * the broker acknowledged every message of it. A failed send replaces the producer, so the next request
 * gets a fresh producer id instead of reusing sequence numbers the broker may already have seen.
 */
export class KafkaPublisher {
  readonly #options: KafkaPublisherOptions;
  readonly #queue: Chunk[] = [];
  #producer: Promise<Producer> | undefined;
  #pumping: Promise<void> | undefined;
  #healthy = false;
  #closed = false;
  #reconnecting = false;
  readonly #stop = new AbortController();

  constructor(options: KafkaPublisherOptions) {
    this.#options = options;
  }

  /** True while the last connect or send succeeded. */
  get healthy(): boolean {
    return this.#healthy && !this.#closed;
  }

  /**
   * Connects in the background — ahead of the first publish, and again after a failed send — retrying
   * with backoff until connected or closed, so readiness follows the broker even when nothing publishes.
   */
  start(): void {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnect().finally(() => {
      this.#reconnecting = false;
    });
  }

  async #reconnect(): Promise<void> {
    for (let delay = 250; !this.#closed && !this.#healthy; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.#connect();
      } catch (error) {
        this.#options.logger.warn({ err: error, retryInMs: delay }, 'kafka producer could not connect');
        await sleep(this.#options.timers, delay, this.#stop.signal);
      }
    }
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(busClosedError());
    if (messages.length === 0) return Promise.resolve();
    const call: Call = { failed: false };
    const sent = Promise.all(this.#split(topic, messages).map((chunk) => this.#enqueue(call, chunk)));
    return this.#withTimeout(call, sent);
  }

  /** Waits for queued sends up to `deadlineMs`, then disconnects. Idempotent. */
  async close(deadlineMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const pumping = this.#pumping;
    if (pumping !== undefined) await settlesWithin(this.#options.timers, pumping, deadlineMs);
    for (const chunk of this.#queue.splice(0)) chunk.reject(busClosedError());
    await this.#dropProducer();
  }

  #split(topic: string, messages: readonly OutgoingMessage[]): Omit<Chunk, 'call' | 'resolve' | 'reject'>[] {
    const chunks: Omit<Chunk, 'call' | 'resolve' | 'reject'>[] = [];
    let current: Message[] = [];
    let bytes = 0;
    for (const message of messages) {
      const size = wireBytesBound(message);
      if (current.length > 0 && bytes + size > this.#options.maxRequestBytes) {
        chunks.push({ topic, messages: current, bytes });
        current = [];
        bytes = 0;
      }
      current.push(toKafkaMessage(message));
      bytes += size;
    }
    chunks.push({ topic, messages: current, bytes });
    return chunks;
  }

  #enqueue(call: Call, chunk: Omit<Chunk, 'call' | 'resolve' | 'reject'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...chunk, call, resolve, reject });
      this.#pumping ??= this.#pump().finally(() => {
        this.#pumping = undefined;
      });
    });
  }

  async #pump(): Promise<void> {
    while (this.#queue.length > 0) {
      const request = this.#take();
      if (request.length === 0) continue;
      try {
        const producer = await this.#connect();
        await producer.sendBatch({ topicMessages: groupByTopic(request), acks: -1 });
        this.#healthy = true;
        for (const chunk of request) chunk.resolve();
      } catch (error) {
        this.#healthy = false;
        this.#options.logger.warn({ err: error, messages: countMessages(request) }, 'kafka publish failed');
        const failure = busUnavailableError('Kafka did not confirm the published messages', error);
        for (const chunk of request) {
          chunk.call.failed = true;
          chunk.reject(failure);
        }
        await this.#dropProducer();
        this.start();
      }
    }
  }

  /** The next request: queued chunks up to `maxRequestBytes` (at least one), skipping failed calls. */
  #take(): Chunk[] {
    const request: Chunk[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Chunk;
      if (request.length > 0 && bytes + next.bytes > this.#options.maxRequestBytes) break;
      this.#queue.shift();
      if (next.call.failed) {
        // An earlier part of this call failed: sending the rest would reorder its keys.
        next.reject(busUnavailableError('An earlier part of this publish failed'));
        continue;
      }
      request.push(next);
      bytes += next.bytes;
    }
    return request;
  }

  #connect(): Promise<Producer> {
    if (this.#producer === undefined) {
      const producer = this.#options.kafka.producer({
        idempotent: true,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // Roughly publishTimeoutMs of retrying, then the send fails retryably. The first retries come
        // fast (5 ms doubling to 2 s): most errors are brief, e.g. a new partition's leader settling in.
        retry: {
          initialRetryTime: 5,
          maxRetryTime: 2_000,
          retries: 9 + Math.ceil(this.#options.publishTimeoutMs / 2_000),
        },
      });
      const connecting = producer.connect().then(() => {
        this.#healthy = true;
        return producer;
      });
      connecting.catch(() => {
        this.#healthy = false;
        if (this.#producer === connecting) this.#producer = undefined;
      });
      this.#producer = connecting;
    }
    return this.#producer;
  }

  async #dropProducer(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer === undefined) return;
    try {
      await (await producer).disconnect();
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'kafka producer disconnect failed');
    }
  }

  #withTimeout(call: Call, sent: Promise<unknown>): Promise<void> {
    const { timers, publishTimeoutMs } = this.#options;
    return new Promise((resolve, reject) => {
      const timer = timers.setTimeout(() => {
        call.failed = true;
        reject(busUnavailableError(`Kafka did not confirm the publish within ${publishTimeoutMs} ms`));
      }, publishTimeoutMs);
      sent.then(
        () => {
          timers.clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          timers.clearTimeout(timer);
          reject(error instanceof Error ? error : busUnavailableError(String(error)));
        },
      );
    });
  }
}

const groupByTopic = (chunks: readonly Chunk[]): TopicMessages[] => {
  const byTopic = new Map<string, Message[]>();
  for (const chunk of chunks) {
    const messages = byTopic.get(chunk.topic);
    if (messages === undefined) byTopic.set(chunk.topic, [...chunk.messages]);
    else messages.push(...chunk.messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
};

const countMessages = (chunks: readonly Chunk[]): number =>
  chunks.reduce((sum, chunk) => sum + chunk.messages.length, 0);

/**
 * An upper bound of a message's bytes in a produce request, cheap enough for every message: the payload
 * exactly, strings at three bytes per UTF-16 unit (their UTF-8 worst case), plus record overhead.
 */
const wireBytesBound = (message: OutgoingMessage): number => {
  let bytes = 64 + message.payload.byteLength + 3 * (message.key.length + message.id.length);
  if (message.headers !== undefined) {
    for (const name in message.headers) bytes += 3 * (name.length + (message.headers[name]?.length ?? 0)) + 8;
  }
  return bytes;
};
