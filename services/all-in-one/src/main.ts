import { createBus, namespacedBus } from '@concord/bus';
import { createIngestModule } from '@concord/ingest';
import { createNotifierModule, createMemoryJobQueue } from '@concord/notifier';
import type { DeliveryRef } from '@concord/notifier';
import { migrate } from '@concord/outbox';
import { createPostgresBackend, createProjectorModule } from '@concord/projector';
import { createResolverModule, defaultPolicyPath, openPolicySource } from '@concord/resolver';
import {
  busConfigFromEnv,
  createLogger,
  createMetrics,
  createRelayModule,
  exitOnStartupFailure,
  runService,
} from '@concord/service-kit';
import { loadAllInOneConfig } from './config.js';
import { openDatabase } from './database.js';

const SERVICE = 'concord';

/**
 * Composition root of the all-in-one process: the four services' modules and one outbox relay on one
 * port, sharing one database and one bus. Embedded by default (PGlite, in-memory bus and job queue).
 */
const main = async (): Promise<void> => {
  const config = loadAllInOneConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
  const metrics = createMetrics(SERVICE);
  const schema = config.DATABASE_SCHEMA;

  const policy = await openPolicySource({
    path: config.CONCORD_POLICY ?? defaultPolicyPath(),
    logger: logger.child({ component: 'policy' }),
  });
  const database = await openDatabase(config, logger);
  const { db } = database;
  await migrate({ db, schema, logger });

  const busConfig =
    config.BROKER === 'memory'
      ? { broker: 'memory' as const, logger }
      : busConfigFromEnv({ ...config, DATABASE_URL: config.DATABASE_URL ?? '' }, SERVICE, logger);
  const bus = namespacedBus(
    await createBus({ ...busConfig, observer: metrics.consumerObserver }),
    config.CONCORD_TOPIC_PREFIX,
  );

  const jobQueue = createMemoryJobQueue<DeliveryRef>({
    retry: {
      maxAttempts: config.NOTIFIER_MAX_ATTEMPTS,
      initialDelayMs: config.NOTIFIER_BACKOFF_INITIAL_MS,
      maxDelayMs: config.NOTIFIER_BACKOFF_MAX_MS,
    },
    logger,
  });

  const modules = [
    createIngestModule({ db, bus, logger, registry: metrics.registry, schema }),
    createResolverModule({ db, bus, logger, metrics, policy, schema }),
    createProjectorModule({
      db,
      bus,
      logger,
      metrics,
      schema,
      backends: [createPostgresBackend({ schema })],
    }),
    createNotifierModule({
      db,
      bus,
      jobQueue,
      logger,
      metrics,
      schema,
      settings: { allowPrivateUrls: config.NOTIFIER_ALLOW_PRIVATE_URLS },
    }),
    createRelayModule({ db, bus, logger, metrics, schema }),
  ];

  const running = await runService({
    service: SERVICE,
    port: config.PORT,
    host: config.HOST,
    logger,
    metrics,
    modules,
    checks: [database.check, { name: 'broker', isReady: () => bus.isReady() }],
    clients: [{ name: 'bus', close: () => bus.close() }, database.client],
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
  logger.info(
    { url: running.url, broker: config.BROKER, embedded: config.DATABASE_URL === undefined },
    'Concord is running',
  );
};

main().catch(exitOnStartupFailure(SERVICE));
