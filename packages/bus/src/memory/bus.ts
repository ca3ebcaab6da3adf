import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { deadLetterMessage } from '../consumer/dead-letter.js';
import type { ConsumerObserver } from '../consumer/observer.js';
import { ConsumerPipeline } from '../consumer/pipeline.js';
import { busClosedError, busUnavailableError, promised } from '../errors.js';
import { dlqTopic } from '../port.js';
import type {
  BusFeatures,
  IncomingMessage,
  MessageBus,
  OutgoingMessage,
  PublishObserver,
  SubscribeOptions,
  Subscription,
  TopicDeclaration,
} from '../port.js';
import type { Timers } from '../timers.js';
import { UnroutableTopics } from '../unroutable.js';
import { assertGroup, assertPublishable, assertTopic, DEFAULT_MAX_MESSAGE_BYTES } from '../validation.js';
import { MemoryBroker } from './broker.js';
import type { GroupMember, MemoryGroup } from './group.js';
import type { Receipt } from './receipt.js';

export interface MemoryBusOptions {
  /** Share one broker between several buses (e.g. the services of the all-in-one process). Default: a new one. */
  readonly memoryBroker?: MemoryBroker;
  readonly logger?: Logger;
  /** Largest message accepted (payload, key and headers). Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /** How long `close()` waits for in-flight handlers. Default 10 s. */
  readonly drainTimeoutMs?: number;
  readonly timers?: Timers;
  readonly random?: () => number;
  /** Told about every handled message, retry and dead letter of this bus's consumers (metrics). */
  readonly observer?: ConsumerObserver;
  /** Told about messages refused because no group reads their topic (metrics). */
  readonly publishObserver?: PublishObserver;
  /**
   * When `publish` resolves. `accepted` (default): once every consumer group of the topic holds the
   * messages. `consumed`: once every group's consumer settled them (handled, or dead-lettered); it
   * rejects, retryably, when a group holding one has no member (e.g. its consumer closed). Memory is
   * volatile, so `consumed` is the only confirmation a publisher can record durably: an outbox relay
   * then marks a row published only after its consumers committed their effect, and whatever the
   * process held in memory when it stopped is published again after a restart (consumers' inboxes drop
   * what they had done already). The embedded all-in-one process uses it.
   */
  readonly confirm?: 'accepted' | 'consumed';
}

export const MEMORY_FEATURES: BusFeatures = {
  orderedPerKey: true,
  consumerGroups: true,
  persistent: false,
  refusesUnroutable: true,
};

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

const MESSAGE_ID_HEADER = 'message-id';

/**
 * The in-memory adapter: the same semantics as the broker adapters (consumer groups sharing work, every
 * group gets every message, per-key order, redelivery with backoff, dead letters on `<topic>.dlq`), without
 * persistence. Like RabbitMQ, a topic takes messages only once a group of it was declared or subscribed:
 * before that a publish fails with the retryable `CONCORD_BUS_UNROUTABLE`. For the embedded mode and
 * fast tests.
 */
export const createMemoryBus = (options: MemoryBusOptions = {}): MessageBus => new MemoryBus(options);

class MemoryBus implements MessageBus {
  readonly name = 'memory';
  readonly features = MEMORY_FEATURES;
  readonly #broker: MemoryBroker;
  readonly #logger: Logger;
  readonly #maxMessageBytes: number;
  readonly #drainTimeoutMs: number;
  readonly #unroutable: UnroutableTopics;
  readonly #subscriptions = new Set<Subscription>();
  /** Publishes waiting for their consumers (`confirm: 'consumed'`). */
  readonly #receipts = new Set<Receipt>();
  #closing: Promise<void> | undefined;

  constructor(readonly options: MemoryBusOptions) {
    this.#broker = options.memoryBroker ?? new MemoryBroker();
    this.#logger = (options.logger ?? silentLogger).child({ bus: 'memory' });
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.#unroutable = new UnroutableTopics(this.#logger, options.publishObserver);
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return promised(() => {
      if (this.#closing !== undefined) throw busClosedError();
      assertPublishable(topic, messages, this.#maxMessageBytes);
      if (messages.length === 0) return;
      const incoming = messages.map((message) => this.#incoming(topic, message));
      if (this.options.confirm !== 'consumed') {
        if (!this.#broker.deliver(topic, incoming)) throw this.#unroutable.refused(topic, messages.length);
        this.#unroutable.routed(topic);
        return;
      }
      const receipt = this.#broker.deliverConsumed(topic, incoming);
      if (receipt === undefined) throw this.#unroutable.refused(topic, messages.length);
      this.#unroutable.routed(topic);
      if (receipt.done) return receipt.promise;
      this.#receipts.add(receipt);
      const forget = () => this.#receipts.delete(receipt);
      receipt.promise.then(forget, forget);
      return receipt.promise;
    });
  }

  declare(topology: readonly TopicDeclaration[]): Promise<void> {
    return promised(() => {
      if (this.#closing !== undefined) throw busClosedError();
      for (const { topic, groups } of topology) {
        assertTopic(topic);
        for (const group of groups) assertGroup(group);
      }
      for (const { topic, groups } of topology) {
        for (const group of groups) this.#broker.declare(topic, group);
      }
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return promised(() => {
      if (this.#closing !== undefined) throw busClosedError();
      assertGroup(options.group);
      for (const topic of options.topics) assertTopic(topic);
      return this.#subscribe(options);
    });
  }

  isReady(): boolean {
    return this.#closing === undefined;
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#subscriptions].map((s) => s.close())).then(() => {
      // A handler still running past the drain deadline will never settle its message here.
      for (const receipt of this.#receipts) {
        receipt.fail(busUnavailableError('the bus closed before consumers settled the message'));
      }
    });
    return this.#closing;
  }

  #incoming(topic: string, message: OutgoingMessage): IncomingMessage {
    return {
      id: message.id,
      topic,
      key: message.key,
      payload: message.payload.slice(),
      headers: { ...message.headers, [MESSAGE_ID_HEADER]: message.id },
      attempt: 1,
    };
  }

  #subscribe(options: SubscribeOptions): Subscription {
    const pipeline = new ConsumerPipeline({
      group: options.group,
      handler: options.handler,
      logger: this.#logger,
      deadLetter: (message, cause) =>
        promised(() => {
          const topic = dlqTopic(message.topic);
          const letter = this.#incoming(topic, deadLetterMessage(message, cause));
          if (!this.#broker.deliver(topic, [letter])) throw this.#unroutable.refused(topic, 1);
        }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(this.options.timers === undefined ? {} : { timers: this.options.timers }),
      ...(this.options.random === undefined ? {} : { random: this.options.random }),
      ...(this.options.observer === undefined ? {} : { observer: this.options.observer }),
      system: 'memory',
    });
    const member: GroupMember = { pipeline, outstanding: 0, closing: false };
    const groups: MemoryGroup[] = [];
    for (const topic of new Set(options.topics)) {
      const group = this.#broker.declare(topic, options.group);
      group.join(member);
      groups.push(group);
    }
    let closing: Promise<void> | undefined;
    const subscription: Subscription = {
      close: () => {
        closing ??= (async () => {
          for (const group of groups) group.leave(member);
          await pipeline.close(this.#drainTimeoutMs);
          this.#subscriptions.delete(subscription);
        })();
        return closing;
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }
}
