import { DLQ_HEADERS, dlqTopic } from '@concord/bus';
import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import { coreErrors } from '@concord/core';
import type { Logger } from '@concord/core';
import { createBusDeadLetterStore } from '@concord/outbox';
import type { BusDeadLetterStore, Database } from '@concord/outbox';

/** One consumer group and a topic it reads (as `consumersIn` lists them). */
export interface CollectedGroup {
  readonly group: string;
  readonly topic: string;
}

export interface DeadLetterCollectorOptions {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly schema?: string;
  /** The service's own groups and the topics they read: their `<topic>.dlq` is collected. */
  readonly consumers: readonly CollectedGroup[];
}

export interface DeadLetterCollector {
  start(): Promise<void>;
  /** Stops consuming and drains. Idempotent. */
  close(): Promise<void>;
}

/** Headers the bus adds to a dead letter or to every message: not the message's own. */
const NOT_OWN = new Set<string>([...Object.values(DLQ_HEADERS), 'message-id']);

/**
 * Whether `group` keeps this dead letter: when its `x-concord-group` names the group (the consumer that
 * gave up). The outbox relay's have the error headers but no group (`outbox_dead_letters` holds those).
 * One with no Concord header at all was dead-lettered by the broker itself (a RabbitMQ quorum queue's
 * delivery limit), which does not say from which group's queue: every group reading the topic keeps its
 * copy rather than lose it.
 */
const keptBy = (message: IncomingMessage, group: string): boolean => {
  const owner = message.headers[DLQ_HEADERS.group];
  return owner === undefined ? message.headers[DLQ_HEADERS.errorCode] === undefined : owner === group;
};

const originalTopic = (message: IncomingMessage): string =>
  message.headers[DLQ_HEADERS.originalTopic] ??
  (message.topic.endsWith('.dlq') ? message.topic.slice(0, -'.dlq'.length) : message.topic);

/**
 * The consumer group that reads `group`'s `<topic>.dlq`: the group itself, so that on RabbitMQ it reads
 * the queue `<group>.<topic>.dlq` its dead letters wait in (and on the memory bus its group); on Kafka,
 * whose groups' members must subscribe alike, `<group>.dead-letters` (a new group starts from the
 * beginning of the topic, and commits its offsets as it goes).
 */
export const deadLetterGroup = (bus: MessageBus, group: string): string =>
  bus.features.groupsSubscribeOnce === true ? `${group}.dead-letters` : group;

/**
 * Keeps a group's dead letters where they can be listed and replayed: each group consumes its own
 * `<topic>.dlq` (under the name {@link deadLetterGroup} gives) into
 * `bus_dead_letters`, and the bus acknowledges a dead letter only once that row committed, so none is
 * lost. Every group reading a topic receives every dead letter of that topic; a group keeps its own
 * ({@link keptBy}) and acknowledges the others: another group's gets its own copy.
 */
export const createDeadLetterCollector = (options: DeadLetterCollectorOptions): DeadLetterCollector => {
  const store: BusDeadLetterStore = createBusDeadLetterStore(
    options.schema === undefined ? {} : { schema: options.schema },
  );
  const logger = options.logger.child({ component: 'dead-letters' });
  const topicsByGroup = new Map<string, string[]>();
  for (const { group, topic } of options.consumers) {
    const topics = topicsByGroup.get(group) ?? [];
    if (!topics.includes(topic)) topics.push(topic);
    topicsByGroup.set(group, topics);
  }
  const subscriptions: Subscription[] = [];
  let closing: Promise<void> | undefined;

  const handler = (group: string) => async (message: IncomingMessage) => {
    if (!keptBy(message, group)) return;
    const headers = Object.fromEntries(
      Object.entries(message.headers).filter(([name]) => !NOT_OWN.has(name)),
    );
    const attempts = Number.parseInt(message.headers[DLQ_HEADERS.attempts] ?? '', 10);
    const recorded = await store.record(options.db, {
      group,
      messageId: message.id,
      topic: originalTopic(message),
      key: message.key,
      headers,
      payload: message.payload,
      errorCode: message.headers[DLQ_HEADERS.errorCode] ?? coreErrors.INTERNAL.code,
      error: message.headers[DLQ_HEADERS.reason] ?? 'dead-lettered by the broker',
      attempts: Number.isSafeInteger(attempts) && attempts > 0 ? attempts : 1,
    });
    if (recorded) {
      logger.info({ group, messageId: message.id, topic: originalTopic(message) }, 'bus dead letter kept');
    }
  };

  return {
    async start() {
      if (closing !== undefined || subscriptions.length > 0) return;
      for (const [group, topics] of topicsByGroup) {
        subscriptions.push(
          await options.bus.subscribe({
            group: deadLetterGroup(options.bus, group),
            topics: topics.map(dlqTopic),
            handler: handler(group),
          }),
        );
      }
    },
    close() {
      closing ??= Promise.all(subscriptions.map((subscription) => subscription.close())).then(
        () => undefined,
      );
      return closing;
    },
  };
};
