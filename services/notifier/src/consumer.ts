import { propagation, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { decodeJson } from '@concord/bus';
import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import type { Logger } from '@concord/core';
import type { Database, Tx } from '@concord/outbox';
import { createBatchedHandler } from '@concord/service-kit';
import { compileFilter, NOTIFIER_TOPICS } from './filter.js';
import type { FilterMatcher, NotificationFilter } from './filter.js';
import type { NotifierMetrics } from './metrics.js';
import { filterSubjectOf, tenantOfNotification, toNotification } from './notification.js';
import type { NewNotification, Notification } from './notification.js';
import type { DeliveryStore, NewDelivery } from './store/deliveries.js';
import type { NotificationLog } from './store/log.js';
import type { SubscriptionStore, SubscriptionWithSecret } from './store/subscriptions.js';

const traceCarrier = (of: Context): { traceparent?: string; tracestate?: string } => {
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(of, carrier);
  return carrier;
};

/** Consumer group and inbox consumer name (services/README.md). */
export const NOTIFIER_GROUP = 'notifier';

export const DEFAULT_NOTIFIER_CONCURRENCY = 256;

type Handled =
  | { readonly duplicate: true }
  | { readonly duplicate: false; readonly notification: Notification; readonly deliveries: number };

export interface NotifierConsumerOptions {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly log: NotificationLog;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryStore;
  readonly metrics: NotifierMetrics;
  /** Called after a commit that appended a notification (and perhaps deliveries). */
  readonly afterCommit: (notification: Notification, deliveries: number) => void;
  /** Messages handled at once across keys; batches form from them. Default 256. */
  readonly concurrency?: number;
  /** Group commit of consumed messages (messages per transaction, transactions at once, linger). */
  readonly batch?: { readonly maxBatch?: number; readonly maxInFlight?: number; readonly lingerMs?: number };
  readonly logger?: Logger;
  readonly retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
}

export interface NotifierConsumer {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Consumes applied, resolved, projected and outcome messages, in batches: the messages the bus hands
 * over concurrently share one transaction holding their notifications in the log (one statement) and
 * a pending delivery for every subscription whose filter matches (one statement). The log is the
 * notifier's inbox: its message ids are unique, so a message whose id is there already (a
 * redelivery) stores nothing and changes nothing. A batch that fails is retried
 * message by message, so a poison message fails (and is retried or dead-lettered) alone.
 */
export const createNotifierConsumer = (options: NotifierConsumerOptions): NotifierConsumer => {
  const compiled = new Map<string, { readonly source: string; readonly matches: FilterMatcher }>();
  const matcherOf = (id: string, filter: NotificationFilter): FilterMatcher => {
    const source = JSON.stringify(filter);
    const known = compiled.get(id);
    if (known?.source === source) return known.matches;
    let matches: FilterMatcher;
    try {
      matches = compileFilter(filter);
    } catch (error) {
      // Stored under older pattern rules (a backreference, too many globs): it matches nothing rather
      // than failing every notification; the subscription's owner replaces it.
      options.logger?.warn({ err: error, subscription: id }, 'subscription filter no longer compiles');
      matches = () => false;
    }
    compiled.set(id, { source, matches });
    return matches;
  };

  /** Subscriptions by tenant: a notification goes only to its own tenant's (DESIGN §5 "Tenants"). */
  const byTenant = (subscriptions: readonly SubscriptionWithSecret[]) => {
    const groups = new Map<string | undefined, SubscriptionWithSecret[]>();
    for (const subscription of subscriptions) {
      const group = groups.get(subscription.tenant);
      if (group === undefined) groups.set(subscription.tenant, [subscription]);
      else group.push(subscription);
    }
    return groups;
  };

  const forgetDeleted = (current: readonly { readonly id: string }[]) => {
    const live = new Set(current.map((subscription) => subscription.id));
    for (const id of compiled.keys()) if (!live.has(id)) compiled.delete(id);
  };

  const handleBatch = async (
    tx: Tx,
    drafts: readonly NewNotification[],
    contexts: readonly Context[],
  ): Promise<Handled[]> => {
    // The log is the inbox: a message id already there (a redelivery) stores nothing.
    const appended = await options.log.appendMany(tx, drafts);
    const subscriptions = appended.some((n) => n !== undefined) ? await options.subscriptions.list(tx) : [];
    if (compiled.size > subscriptions.length + 1_000) forgetDeleted(subscriptions);
    const tenants = byTenant(subscriptions);
    const deliveries = appended.flatMap((notification, i) => {
      if (notification === undefined) return [];
      // Each delivery continues the trace of the message its notification came from.
      const trace = traceCarrier(contexts[i] as Context);
      const subject = filterSubjectOf(notification);
      return (tenants.get(tenantOfNotification(notification)) ?? [])
        .filter((subscription) => matcherOf(subscription.id, subscription.filter)(subject))
        .map((subscription): NewDelivery => ({
          notificationId: notification.id,
          subscriptionId: subscription.id,
          ...trace,
        }));
    });
    const counts = await options.deliveries.insertMany(tx, deliveries);
    return appended.map((notification): Handled =>
      notification === undefined
        ? { duplicate: true }
        : { duplicate: false, notification, deliveries: counts.get(notification.id) ?? 0 },
    );
  };

  const batched = createBatchedHandler({
    db: options.db,
    handleBatch,
    spanName: 'notifier commit',
    ...(options.batch?.maxBatch === undefined ? {} : { maxBatch: options.batch.maxBatch }),
    ...(options.batch?.maxInFlight === undefined ? {} : { maxInFlight: options.batch.maxInFlight }),
    ...(options.batch?.lingerMs === undefined ? {} : { lingerMs: options.batch.lingerMs }),
    ...(options.logger === undefined
      ? {}
      : {
          onIsolate: ({ messages, error }: { messages: number; error: unknown }) =>
            options.logger?.warn(
              { err: error, messages },
              'notification batch failed; retrying its messages one by one',
            ),
        }),
  });

  const handle = async (message: IncomingMessage): Promise<void> => {
    const draft = toNotification({
      topic: message.topic,
      messageId: message.id,
      payload: decodeJson(message.payload),
    });
    const result = await batched.handle(draft);
    if (result.duplicate) return;
    options.logger?.debug(
      {
        notificationId: result.notification.id,
        kind: result.notification.kind,
        eventId: draft.eventId,
        deliveries: result.deliveries,
      },
      'notification recorded',
    );
    trace.getActiveSpan()?.setAttributes({
      'concord.notification.id': result.notification.id,
      'concord.notification.kind': result.notification.kind,
      'concord.deliveries': result.deliveries,
      ...(draft.eventId === undefined ? {} : { 'concord.event.id': draft.eventId }),
    });
    options.metrics.notifications.inc({ kind: result.notification.kind });
    options.afterCommit(result.notification, result.deliveries);
  };

  let subscription: Subscription | undefined;
  return {
    async start() {
      subscription ??= await options.bus.subscribe({
        group: NOTIFIER_GROUP,
        topics: [...NOTIFIER_TOPICS],
        handler: handle,
        concurrency: options.concurrency ?? DEFAULT_NOTIFIER_CONCURRENCY,
        ...(options.retry === undefined ? {} : { retry: options.retry }),
      });
    },
    async close() {
      await subscription?.close();
      await batched.close();
    },
  };
};
