import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { DEFAULT_SCHEMA } from '@concord/outbox';
import type { Database } from '@concord/outbox';
import { createRetentionModule } from '@concord/service-kit';
import type { DeadLetterSource, RetentionModule, ServiceMetrics, ServiceModule } from '@concord/service-kit';
import { createNotifierConsumer } from './consumer.js';
import { webhookDeadLetterSource } from './dead-letters.js';
import { createCircuitBreakers } from './delivery/breakers.js';
import type { CircuitSettings } from './delivery/breakers.js';
import { createDeliverer } from './delivery/deliverer.js';
import { createHttpSender } from './delivery/http-sender.js';
import type { WebhookSender } from './delivery/http-sender.js';
import { createDispatcher } from './dispatcher.js';
import { registerStreamRoute } from './http/stream.js';
import type { StreamLimits, StreamRoute } from './http/stream.js';
import { registerSubscriptionRoutes } from './http/subscriptions.js';
import { createNotifierMetrics } from './metrics.js';
import type { NotifierMetrics } from './metrics.js';
import type { JobQueue } from './queue/port.js';
import { createDeliveryStore } from './store/deliveries.js';
import type { DeliveryRef } from './store/deliveries.js';
import { createNotificationLog } from './store/log.js';
import { createSubscriptionStore } from './store/subscriptions.js';
import { tablesFor } from './store/tables.js';
import { createNotificationFeed } from './stream/feed.js';
import type { ResolveHost } from './url-guard.js';

export interface NotifierSettings {
  /** Let webhook URLs reach private, loopback and link-local addresses. Default false. */
  readonly allowPrivateUrls: boolean;
  /** Timeout of one webhook request. Default 10 s. */
  readonly webhookTimeoutMs: number;
  /** Per-endpoint circuit breaker. Default: open after 5 consecutive failures, half-open after 30 s. */
  readonly circuit: CircuitSettings;
  /** Messages handled at once by the consumer (batches form from them). Default 256. */
  readonly consumerConcurrency?: number;
  /** Heartbeat comment interval of SSE streams. Default 15 s. */
  readonly sseHeartbeatMs: number;
  /** Caps on SSE streams (in all, per client address, stall deadline, replay page). */
  readonly streams?: Partial<StreamLimits>;
  /** Fallback polling of the log for live streams. Default 500 ms. */
  readonly feedPollMs: number;
  /** Fallback polling of pending deliveries. Default 1 s. */
  readonly dispatchPollMs: number;
  /**
   * How long notifications stay in the log: the redelivery window of the notifier's inbox (the log) and
   * how far back streams resume. Default 7 days.
   */
  readonly logRetentionMs: number;
  /** How long finished (delivered or dead) deliveries are kept. Default 1 day. */
  readonly deliveryRetentionMs: number;
  /** Pause between retention runs. Default 60 s. */
  readonly retentionIntervalMs: number;
}

export const DEFAULT_NOTIFIER_SETTINGS: NotifierSettings = Object.freeze({
  allowPrivateUrls: false,
  webhookTimeoutMs: 10_000,
  circuit: Object.freeze({ failureThreshold: 5, halfOpenAfterMs: 30_000 }),
  sseHeartbeatMs: 15_000,
  feedPollMs: 500,
  dispatchPollMs: 1_000,
  logRetentionMs: 7 * 24 * 3_600_000,
  deliveryRetentionMs: 24 * 3_600_000,
  retentionIntervalMs: 60_000,
});

/** Rows one retention statement looks at. */
const PRUNE_BATCH = 2_000;

export interface NotifierModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  /** Webhook deliveries: BullMQ standalone, in memory in the all-in-one process. */
  readonly jobQueue: JobQueue<DeliveryRef>;
  readonly logger: Logger;
  /** The service's metrics; the notifier registers its own on the same registry. */
  readonly metrics: ServiceMetrics;
  /** Postgres schema of Concord's tables. Default `concord`. */
  readonly schema?: string;
  readonly settings?: Partial<NotifierSettings>;
  /** Sends webhook requests; default node:http(s) with the private-address guard. */
  readonly sender?: WebhookSender;
  /** Resolves webhook host names when subscriptions are created; default the system resolver. */
  readonly resolveHost?: ResolveHost;
}

export interface NotifierModule extends ServiceModule {
  readonly notifierMetrics: NotifierMetrics;
  /** Prunes the log and finished deliveries on its own loop; `runOnce` for a run now. */
  readonly retention: RetentionModule;
  /** Webhook deliveries that used up their attempts, for the dead-letter routes (service-kit). */
  readonly deadLetters: DeadLetterSource;
}

/**
 * The notifier: consumes applied/resolved/projected/outcome messages into the notification log and
 * pending webhook deliveries (one transaction with the inbox), moves deliveries into the job queue,
 * delivers them signed through per-endpoint circuit breakers, and serves `/v1/subscriptions` and the
 * `/v1/stream` Server-Sent Events.
 */
export const createNotifierModule = (deps: NotifierModuleDeps): NotifierModule => {
  const settings: NotifierSettings = { ...DEFAULT_NOTIFIER_SETTINGS, ...deps.settings };
  const logger = deps.logger.child({ module: 'notifier' });
  const tables = tablesFor(deps.schema ?? DEFAULT_SCHEMA);
  const metrics = createNotifierMetrics(deps.metrics.registry);
  const log = createNotificationLog(tables);
  const subscriptions = createSubscriptionStore(tables);
  const deliveries = createDeliveryStore(tables);
  const ownSender =
    deps.sender === undefined ? createHttpSender({ allowPrivate: settings.allowPrivateUrls }) : undefined;
  const send = deps.sender ?? ownSender?.send;
  if (send === undefined) throw new Error('unreachable: no webhook sender');

  const feed = createNotificationFeed({
    db: deps.db,
    log,
    channel: tables.channel,
    pollIntervalMs: settings.feedPollMs,
    logger,
  });
  const dispatcher = createDispatcher({
    db: deps.db,
    deliveries,
    queue: deps.jobQueue,
    metrics,
    logger,
    pollIntervalMs: settings.dispatchPollMs,
  });
  const breakers = createCircuitBreakers({
    ...settings.circuit,
    onStateChange: (endpoint, state) => {
      if (state === 'closed') logger.debug({ endpoint, state }, 'webhook circuit closed');
      else logger.warn({ endpoint, state }, 'webhook circuit state changed');
    },
  });
  metrics.observeCircuits(() => breakers.counts());
  const deliverer = createDeliverer({
    db: deps.db,
    deliveries,
    breakers,
    send,
    metrics,
    logger,
    timeoutMs: settings.webhookTimeoutMs,
  });
  const consumer = createNotifierConsumer({
    db: deps.db,
    bus: deps.bus,
    logger,
    log,
    subscriptions,
    deliveries,
    metrics,
    ...(settings.consumerConcurrency === undefined ? {} : { concurrency: settings.consumerConcurrency }),
    afterCommit: (_notification, count) => {
      feed.wake();
      if (count > 0) dispatcher.wake();
    },
  });

  const retention = createRetentionModule({
    metrics: deps.metrics,
    logger,
    intervalMs: settings.retentionIntervalMs,
    tasks: [
      {
        table: 'notifier_deliveries',
        async pruneBatch() {
          const deleted = await deliveries.prune(deps.db, {
            retentionMs: settings.deliveryRetentionMs,
            limit: PRUNE_BATCH,
          });
          return { deleted, more: deleted === PRUNE_BATCH };
        },
      },
      {
        table: 'notifier_log',
        pruneBatch: () => log.prune(deps.db, { retentionMs: settings.logRetentionMs, limit: PRUNE_BATCH }),
      },
    ],
  });

  let stream: StreamRoute | undefined;
  let closing: Promise<void> | undefined;
  return {
    name: 'notifier',
    notifierMetrics: metrics,
    retention,
    deadLetters: webhookDeadLetterSource({ db: deps.db, tables, wake: () => dispatcher.wake() }),
    routes(app) {
      registerSubscriptionRoutes(app, {
        db: deps.db,
        subscriptions,
        deliveries,
        allowPrivateUrls: settings.allowPrivateUrls,
        ...(deps.resolveHost === undefined ? {} : { resolveHost: deps.resolveHost }),
        // The endpoint's circuit stops counting in concord_notifier_circuits once no subscription uses it
        // (on this instance; another keeps its breaker until it is the least recently used one too many).
        async onDeleted(deleted) {
          const remaining = await subscriptions.list(deps.db);
          if (!remaining.some((subscription) => subscription.url === deleted.url))
            breakers.forget(deleted.url);
        },
      });
      stream = registerStreamRoute(app, {
        db: deps.db,
        log,
        feed,
        metrics,
        heartbeatMs: settings.sseHeartbeatMs,
        ...(settings.streams === undefined ? {} : { limits: settings.streams }),
        logger,
      });
    },
    checks: [{ name: 'job-queue', isReady: () => deps.jobQueue.isReady() }],
    async start() {
      await feed.start();
      await deps.jobQueue.start(deliverer);
      await dispatcher.start();
      await consumer.start();
      await retention.start();
    },
    close() {
      closing ??= (async () => {
        await retention.close();
        await consumer.close();
        stream?.closeAll();
        await feed.close();
        await dispatcher.close();
        await deps.jobQueue.close();
        await deliverer.close();
        ownSender?.close();
      })();
      return closing;
    },
  };
};
