import { topologyOf } from '@concord/core/messages';
import {
  connectInfrastructure,
  consumerLagProbeFor,
  consumersIn,
  createConsumerLagModule,
  createDeadLettersModule,
  createLogger,
  createMetrics,
  exitOnStartupFailure,
  httpAccessFromEnv,
  runService,
} from '@concord/service-kit';
import { Redis } from 'ioredis';
import { loadNotifierConfig } from './config.js';
import { notifierMigrations } from './migrations.js';
import { createNotifierModule } from './module.js';
import { createBullMqJobQueue } from './queue/bullmq.js';
import type { DeliveryRef } from './store/deliveries.js';

/**
 * Composition root of the standalone notifier: config → logger → metrics → Postgres (migrated) and
 * bus → Redis + BullMQ → module → runService. Shutdown (DESIGN §7): readiness 503 → consumer stops →
 * SSE streams end → dispatcher, BullMQ worker and queue close → HTTP → bus → Redis → database last.
 */
const main = async (): Promise<void> => {
  const config = loadNotifierConfig(process.env);
  const logger = createLogger({ service: 'notifier', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const metrics = createMetrics('notifier');

  const infra = await connectInfrastructure(config, {
    service: 'notifier',
    logger,
    metrics,
    topology: topologyOf('notifier'),
    migrations: [notifierMigrations],
  });
  const { db, bus } = infra;

  // Adds fail fast while Redis is down (the dispatcher keeps rows pending and retries); the worker's
  // connection waits and reconnects, as BullMQ requires.
  const queueRedis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const workerRedis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  for (const [name, client] of [
    ['queue', queueRedis],
    ['worker', workerRedis],
  ] as const) {
    client.on('error', (error) => logger.warn({ err: error, redis: name }, 'redis connection error'));
  }
  const jobQueue = createBullMqJobQueue<DeliveryRef>({
    connection: queueRedis,
    workerConnection: workerRedis,
    queueName: config.NOTIFIER_QUEUE_NAME,
    prefix: config.NOTIFIER_QUEUE_PREFIX,
    concurrency: config.NOTIFIER_DELIVERY_CONCURRENCY,
    retry: {
      maxAttempts: config.NOTIFIER_MAX_ATTEMPTS,
      initialDelayMs: config.NOTIFIER_BACKOFF_INITIAL_MS,
      maxDelayMs: config.NOTIFIER_BACKOFF_MAX_MS,
    },
    logger,
  });

  const notifier = createNotifierModule({
    db,
    bus,
    jobQueue,
    logger,
    metrics,
    schema: config.DATABASE_SCHEMA,
    settings: {
      allowPrivateUrls: config.NOTIFIER_ALLOW_PRIVATE_URLS,
      webhookTimeoutMs: config.NOTIFIER_WEBHOOK_TIMEOUT_MS,
      circuit: {
        failureThreshold: config.NOTIFIER_CIRCUIT_FAILURES,
        halfOpenAfterMs: config.NOTIFIER_CIRCUIT_HALF_OPEN_MS,
      },
      sseHeartbeatMs: config.NOTIFIER_SSE_HEARTBEAT_MS,
      streams: {
        maxStreams: config.NOTIFIER_STREAM_MAX,
        maxPerClient: config.NOTIFIER_STREAM_MAX_PER_CLIENT,
        stallMs: config.NOTIFIER_STREAM_STALL_MS,
        pageSize: config.NOTIFIER_STREAM_PAGE_SIZE,
      },
      feedPollMs: config.NOTIFIER_FEED_POLL_MS,
      logRetentionMs: config.NOTIFIER_LOG_RETENTION_MS,
      deliveryRetentionMs: config.NOTIFIER_DELIVERY_RETENTION_MS,
      retentionIntervalMs: config.RETENTION_INTERVAL_MS,
    },
  });

  // concord_consumer_lag{group,topic} of the groups notifier consumes, sampled from the broker (DESIGN §8).
  const lagMetrics = createConsumerLagModule({
    probe: consumerLagProbeFor(config, { service: 'notifier', topology: topologyOf('notifier'), logger }),
    metrics,
    logger,
  });

  // Its outbox's and its group's bus dead letters (collected from `<topic>.dlq`), listed and replayed
  // by /v1/dead-letters (DESIGN §5 "Dead letters").
  const deadLetters = createDeadLettersModule({
    db,
    bus,
    logger,
    schema: config.DATABASE_SCHEMA,
    consumers: consumersIn(topologyOf('notifier'), 'notifier'),
    sources: [notifier.deadLetters],
  });

  await runService({
    service: 'notifier',
    port: config.PORT,
    access: await httpAccessFromEnv(config),
    logger,
    metrics,
    modules: [notifier, deadLetters, lagMetrics],
    graceMs: config.SHUTDOWN_GRACE_MS,
    checks: infra.checks,
    // Redis first, then the bus, the database pool last.
    clients: [
      {
        name: 'redis',
        close: () => Promise.all([queueRedis.quit(), workerRedis.quit()]).then(() => undefined),
      },
      ...infra.clients,
    ],
  });
};

main().catch(exitOnStartupFailure('notifier'));
