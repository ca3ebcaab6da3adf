import { topologyOf } from '@concord/core';
import {
  connectInfrastructure,
  createLogger,
  createMetrics,
  createInboxRetentionModule,
  createRelayModule,
  exitOnStartupFailure,
  runService,
} from '@concord/service-kit';
import { loadIngestConfig } from './config.js';
import { createIngestModule } from './module.js';

const SERVICE = 'ingest';

/** Composition root: config → logger → metrics → database (migrated) and bus → modules → run. */
const main = async (): Promise<void> => {
  const config = loadIngestConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
  const metrics = createMetrics(SERVICE);
  const { db, bus, checks, clients } = await connectInfrastructure(config, {
    service: SERVICE,
    logger,
    metrics,
    topology: topologyOf(SERVICE),
  });

  const ingest = createIngestModule({
    db,
    bus,
    logger,
    registry: metrics.registry,
    schema: config.DATABASE_SCHEMA,
    options: {
      limits: { maxBatchSize: config.INGEST_MAX_BATCH_EVENTS, maxEventBytes: config.INGEST_MAX_EVENT_BYTES },
      bodyLimit: config.INGEST_MAX_BODY_BYTES,
      groupCommit: {
        maxEvents: config.INGEST_GROUP_COMMIT_EVENTS,
        lingerMs: config.INGEST_GROUP_COMMIT_LINGER_MS,
        maxInFlight: config.INGEST_GROUP_COMMIT_CONCURRENCY,
      },
      submitConcurrency: config.INGEST_SUBMIT_CONCURRENCY,
    },
  });
  const relay = createRelayModule({ db, bus, logger, metrics, schema: config.DATABASE_SCHEMA });
  const retention = createInboxRetentionModule({
    db,
    metrics,
    logger,
    schema: config.DATABASE_SCHEMA,
    consumers: [SERVICE],
    env: config,
  });

  await runService({
    service: SERVICE,
    port: config.PORT,
    logger,
    metrics,
    // Intake stops first, then the relay publishes what it wrote, then the bus and the pool close.
    modules: [ingest, relay, retention],
    checks,
    clients,
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch(exitOnStartupFailure(SERVICE));
