import { decodeJson } from '@concord/bus';
import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import type { Database, Inbox } from '@concord/outbox';
import { compileFilter, NOTIFIER_TOPICS } from './filter.js';
import type { FilterMatcher, NotificationFilter } from './filter.js';
import type { NotifierMetrics } from './metrics.js';
import { toNotification } from './notification.js';
import type { Notification } from './notification.js';
import type { DeliveryStore } from './store/deliveries.js';
import type { NotificationLog } from './store/log.js';
import type { SubscriptionStore } from './store/subscriptions.js';

/** Consumer group and inbox consumer name (services/README.md). */
export const NOTIFIER_GROUP = 'notifier';

export interface NotifierConsumerOptions {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly inbox: Inbox;
  readonly log: NotificationLog;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryStore;
  readonly metrics: NotifierMetrics;
  /** Called after a commit that appended a notification (and perhaps deliveries). */
  readonly afterCommit: (notification: Notification, deliveries: number) => void;
  readonly concurrency?: number;
  readonly retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
}

export interface NotifierConsumer {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Consumes applied, resolved, projected and outcome messages. Each message, in one transaction with
 * the inbox: append the notification to the log and a pending delivery for every subscription whose
 * filter matches. A redelivered message finds its id in the inbox and changes nothing.
 */
export const createNotifierConsumer = (options: NotifierConsumerOptions): NotifierConsumer => {
  const compiled = new Map<string, { readonly source: string; readonly matches: FilterMatcher }>();
  const matcherOf = (id: string, filter: NotificationFilter): FilterMatcher => {
    const source = JSON.stringify(filter);
    const known = compiled.get(id);
    if (known?.source === source) return known.matches;
    const matches = compileFilter(filter);
    compiled.set(id, { source, matches });
    return matches;
  };

  const forgetDeleted = (current: readonly { readonly id: string }[]) => {
    const live = new Set(current.map((subscription) => subscription.id));
    for (const id of compiled.keys()) if (!live.has(id)) compiled.delete(id);
  };

  const handle = async (message: IncomingMessage): Promise<void> => {
    const draft = toNotification({
      topic: message.topic,
      messageId: message.id,
      payload: decodeJson(message.payload),
    });
    const result = await options.db.withTransaction((tx) =>
      options.inbox.handle(tx, NOTIFIER_GROUP, message.id, async () => {
        const notification = await options.log.append(tx, draft);
        const subscriptions = await options.subscriptions.list(tx);
        if (compiled.size > subscriptions.length + 1_000) forgetDeleted(subscriptions);
        const matching = subscriptions.filter((subscription) =>
          matcherOf(subscription.id, subscription.filter)(notification),
        );
        const deliveries = await options.deliveries.insert(
          tx,
          notification.id,
          matching.map((subscription) => subscription.id),
        );
        return { notification, deliveries };
      }),
    );
    if (result.duplicate) return;
    options.metrics.notifications.inc({ kind: result.value.notification.kind });
    options.afterCommit(result.value.notification, result.value.deliveries);
  };

  let subscription: Subscription | undefined;
  return {
    async start() {
      subscription ??= await options.bus.subscribe({
        group: NOTIFIER_GROUP,
        topics: [...NOTIFIER_TOPICS],
        handler: handle,
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        ...(options.retry === undefined ? {} : { retry: options.retry }),
      });
    },
    async close() {
      await subscription?.close();
    },
  };
};
