import { createBus, createConsumerLagProbe, namespacedBus } from '@concord/bus';
import { fullTopology } from '@concord/core/messages';
import { createIngestModule } from '@concord/ingest';
import { createNotifierModule, createMemoryJobQueue, notifierMigrations } from '@concord/notifier';
import type { DeliveryRef } from '@concord/notifier';
import { baseMigrations, migrate } from '@concord/outbox';
import { createPostgresBackend, createProjectorModule, projectorMigrations } from '@concord/projector';
import {
  createResolverModule,
  defaultPolicyPath,
  extensionList,
  loadExtensions,
  openPolicySource,
  resolverMigrations,
} from '@concord/resolver';
import {
  busConfigFromEnv,
  consumersIn,
  createConsumerLagModule,
  createDeadLettersModule,
  createMetrics,
  createInboxRetentionModule,
  createRelayModule,
  httpAccessFromEnv,
  registerStaticFiles,
  runService,
  withBusMetrics,
} from '@concord/service-kit';
import type { RunningService, ServiceModule } from '@concord/service-kit';
import type { Logger } from '@concord/core';
import type { AllInOneConfig } from './config.js';
import { openDatabase } from './database.js';

export const SERVICE = 'concord';

export interface StartAllInOneOptions {
  readonly config: AllInOneConfig;
  readonly logger: Logger;
  /** Wire SIGTERM/SIGINT to shutdown (default true; tests turn it off). */
  readonly handleSignals?: boolean;
  /** What shutdown ends with (default `process.exit`). */
  readonly exit?: (code: number) => void;
  /** The example task app's folder, served at `/examples/tasks/` (main.ts: the repository's, when there). */
  readonly examplesDir?: string;
}

/** The example app's static files (they carry no data: the app reads the API with the user's token). */
const examplesModule = (dir: string): ServiceModule => ({
  name: 'examples',
  routes: (app) => registerStaticFiles(app, { prefix: '/examples/tasks', dir }),
  start: () => Promise.resolve(),
  close: () => Promise.resolve(),
});

/**
 * The relay's rows per read and per publish on the in-memory bus. Every row the relay has read stays in
 * memory until all four consumers handled it (the bus confirms only then), so its read bounds the
 * messages in flight between the services: at most 128 × 1,000,000 bytes (core's `MAX_MESSAGE_BYTES`),
 * against 2000 rows with the relay's defaults.
 */
const IN_PROCESS_RELAY = { readSize: 128, batchSize: 32 } as const;

/**
 * Composition root of the all-in-one process, given its config: the four services' modules and one
 * outbox relay on one port, sharing one database and one bus. Embedded by default (PGlite, in-memory bus
 * and job queue). Started by `main.ts`, and by tests that need the whole process.
 */
export async function startAllInOne(options: StartAllInOneOptions): Promise<RunningService> {
  const { config, logger } = options;
  const metrics = createMetrics(SERVICE);
  const schema = config.DATABASE_SCHEMA;

  const extensions = await loadExtensions(extensionList(config.CONCORD_EXTENSIONS));
  if (extensions.modules.length > 0) logger.info({ modules: extensions.modules }, 'extensions loaded');
  const { registry: strategies, specs } = extensions;
  const policy = await openPolicySource({
    path: config.CONCORD_POLICY ?? defaultPolicyPath(),
    logger: logger.child({ component: 'policy' }),
    registry: strategies,
    specs,
  });
  const database = await openDatabase(config, logger);
  const { db } = database;
  // Every owner's tables: the four services share this one database.
  const sets = [...baseMigrations, resolverMigrations, projectorMigrations, notifierMigrations];
  await migrate({ db, schema, sets, logger });

  // The in-memory bus confirms a publish only once the consumers committed it (see README "Embedded
  // mode and restarts"): the relay marks outbox rows published only then, so a stop or crash loses
  // nothing the bus held in memory; it is published again after the restart, and inboxes dedupe.
  const busConfig =
    config.BROKER === 'memory'
      ? { broker: 'memory' as const, logger, confirm: 'consumed' as const }
      : busConfigFromEnv({ ...config, DATABASE_URL: config.DATABASE_URL ?? '' }, SERVICE, logger);
  const bus = namespacedBus(await createBus(withBusMetrics(busConfig, metrics)), config.CONCORD_TOPIC_PREFIX);
  // Every group of DESIGN §4, before anything publishes (one process runs all four services).
  await bus.declare(fullTopology());

  const jobQueue = createMemoryJobQueue<DeliveryRef>({
    retry: {
      maxAttempts: config.NOTIFIER_MAX_ATTEMPTS,
      initialDelayMs: config.NOTIFIER_BACKOFF_INITIAL_MS,
      maxDelayMs: config.NOTIFIER_BACKOFF_MAX_MS,
    },
    logger,
  });

  const relay = createRelayModule({
    db,
    bus,
    logger,
    metrics,
    schema,
    relay: {
      retentionMs: config.OUTBOX_RETENTION_MS,
      ...(config.BROKER === 'memory' ? IN_PROCESS_RELAY : {}),
    },
  });
  // concord_consumer_lag{group,topic} of every group (DESIGN §8); none on the in-memory bus.
  const lagMetrics = createConsumerLagModule({
    probe: createConsumerLagProbe(busConfig, {
      prefix: config.CONCORD_TOPIC_PREFIX,
      consumers: consumersIn(fullTopology()),
    }),
    metrics,
    logger,
  });
  const notifier = createNotifierModule({
    db,
    bus,
    jobQueue,
    logger,
    metrics,
    schema,
    settings: { allowPrivateUrls: config.NOTIFIER_ALLOW_PRIVATE_URLS },
  });
  const modules = [
    // The relay closes first and starts last. Started after every subscription exists, so no topic
    // lacks its consumer groups; closed while the consumers still run, so its batch in flight (which
    // the in-memory bus confirms only once they handled it) completes; what they write meanwhile stays
    // in the outbox for the next start.
    { name: relay.name, start: () => Promise.resolve(), close: () => relay.close() },
    createIngestModule({
      db,
      bus,
      logger,
      registry: metrics.registry,
      schema,
      options: { bodyLimit: config.INGEST_MAX_BODY_BYTES, maxClockSkewMs: config.INGEST_MAX_CLOCK_SKEW_MS },
    }),
    createResolverModule({
      db,
      bus,
      logger,
      metrics,
      policy,
      schema,
      registry: strategies,
      specs,
      // The review console reads the stream this process serves, beside it.
      console: { streamUrl: '../v1/stream' },
    }),
    createProjectorModule({
      db,
      bus,
      logger,
      metrics,
      schema,
      backends: [createPostgresBackend({ schema })],
    }),
    notifier,
    // Dead letters of every kind: the outbox's, every group's from the bus (collected from `<topic>.dlq`,
    // subscribed before the relay starts), the notifier's webhooks (DESIGN §5 "Dead letters").
    createDeadLettersModule({
      db,
      bus,
      logger,
      schema,
      consumers: consumersIn(fullTopology()),
      sources: [notifier.deadLetters],
    }),
    createInboxRetentionModule({
      db,
      metrics,
      logger,
      schema,
      consumers: ['ingest', 'resolver', 'projector'],
      env: config,
    }),
    { name: `${relay.name}-start`, start: () => relay.start(), close: () => relay.close() },
    lagMetrics,
    ...(options.examplesDir === undefined ? [] : [examplesModule(options.examplesDir)]),
  ];

  return runService({
    service: SERVICE,
    port: config.PORT,
    host: config.HOST,
    logger,
    metrics,
    modules,
    checks: [database.check, { name: 'broker', isReady: () => bus.isReady() }],
    clients: [{ name: 'bus', close: () => bus.close() }, database.client],
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
    graceMs: config.SHUTDOWN_GRACE_MS,
    access: await httpAccessFromEnv(config),
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    ...(options.exit === undefined ? {} : { exit: options.exit }),
  });
}
