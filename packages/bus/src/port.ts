import type { ConcordError } from '@concord/core';

/** Headers travel with every message; values are strings on every broker. */
export type MessageHeaders = Readonly<Record<string, string>>;

/** A message as a producer hands it to the bus. */
export interface OutgoingMessage {
  /** Unique message id; also written to the `message-id` header. Consumers' inboxes dedupe on it. */
  readonly id: string;
  /** Partitioning / ordering key (the aggregate id, or the event id for outcomes). */
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers?: MessageHeaders;
}

/** A message as a handler receives it. */
export interface IncomingMessage {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers: MessageHeaders;
  /** 1 on first delivery; grows with every redelivery the bus knows of. */
  readonly attempt: number;
}

export type MessageHandler = (message: IncomingMessage) => Promise<void>;

export interface RetryOptions {
  /** Attempts before dead-lettering (first delivery included). Default 5. */
  readonly maxAttempts?: number;
  /** First backoff delay in ms; doubles every attempt, with full jitter. Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound of a backoff delay in ms. Default 10_000. */
  readonly maxDelayMs?: number;
}

export interface SubscribeOptions {
  /** Consumer group: members of one group share the work; every group gets every message. */
  readonly group: string;
  readonly topics: readonly string[];
  readonly handler: MessageHandler;
  /** Messages handled at once across keys. Per-key order always holds. Default 16. */
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
}

export interface Subscription {
  /** Stops taking new messages, waits for in-flight handlers up to the bus's drain deadline. Idempotent. */
  close(): Promise<void>;
}

/** What an adapter guarantees, so the contract suite and callers can adapt. */
export interface BusFeatures {
  /** Messages with the same key are handled in publish order within a group. */
  readonly orderedPerKey: boolean;
  /** Several subscribers with one group share the work. */
  readonly consumerGroups: boolean;
  /** Messages survive a restart of the process / broker. */
  readonly persistent: boolean;
  /**
   * A publish to a topic that no declared consumer group reads fails with the retryable
   * `CONCORD_BUS_UNROUTABLE` instead of being dropped (RabbitMQ, memory). False where the topic itself
   * keeps messages for groups that join later (Kafka).
   */
  readonly refusesUnroutable: boolean;
  /**
   * Every member of a consumer group must subscribe to the same topics (Kafka: the group's leader assigns
   * only the topics it subscribed to itself), so reading other topics under a group's name, beside its
   * subscription, needs a group of its own. Absent: false (RabbitMQ, memory: each topic is a queue or
   * group of its own).
   */
  readonly groupsSubscribeOnce?: boolean;
}

/** A topic with the consumer groups that read it (DESIGN §4's table, `topologyOf` in core). */
export interface TopicDeclaration {
  readonly topic: string;
  readonly groups: readonly string[];
}

/** What a bus reports about publishing; feeds metrics. Must not throw, and must be cheap. */
export type PublishEvent = {
  /** Messages the broker took but no queue did (RabbitMQ's basic.return), or the memory broker refused. */
  readonly kind: 'unroutable';
  readonly topic: string;
  readonly messages: number;
};

export type PublishObserver = (event: PublishEvent) => void;

/**
 * The port every service talks through. `publish` resolves only once the broker confirmed every
 * message of the batch; `close` stops all subscriptions, drains in-flight handlers within a deadline,
 * and closes connections. Publishing after close fails with `CONCORD_BUS_CLOSED`; publishing to a topic no
 * declared group reads fails with the retryable `CONCORD_BUS_UNROUTABLE` where `refusesUnroutable`.
 */
export interface MessageBus {
  readonly name: string;
  readonly features: BusFeatures;
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /**
   * Makes the topics exist with a queue per listed group (each with its dead-letter queue), so that
   * what is published from now on waits for those groups even before their consumers first subscribe.
   * Idempotent; a service declares every group that reads a topic it publishes, and its own, before it
   * publishes (DESIGN §4).
   */
  declare(topology: readonly TopicDeclaration[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** True while connected and able to publish; feeds `/readyz`. */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Dead letters go to `<topic>.dlq` with these headers. */
export const DLQ_HEADERS = {
  errorCode: 'x-concord-error-code',
  reason: 'x-concord-error-reason',
  attempts: 'x-concord-attempts',
  originalTopic: 'x-concord-original-topic',
  /** The consumer group whose handler gave up on the message. */
  group: 'x-concord-group',
} as const;

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

export type BusError = ConcordError;
