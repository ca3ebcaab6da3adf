import { createConsumerLagProbe } from '@concord/bus';
import { topologyOf } from '@concord/core/messages';
import {
  busConfigFromEnv,
  connectInfrastructure,
  createLogger,
  createMetrics,
  createPipelineModules,
  exitOnStartupFailure,
  httpAccessFromEnv,
  runService,
} from '@concord/service-kit';
import { downstreamConsumers } from './backlog.js';
import { loadIngestConfig } from './config.js';
import { createIngestModule } from './module.js';

const SERVICE = 'ingest';

/** Composition root: config → logger → metrics → database (migrated) and bus → modules → run. */
const main = async (): Promise<void> => {
  const config = loadIngestConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const metrics = createMetrics(SERVICE);
  const { db, bus, checks, clients } = await connectInfrastructure(config, {
    service: SERVICE,
    logger,
    metrics,
    topology: topologyOf(SERVICE),
  });

  // Admission control reads the downstream groups' lag from the broker (DESIGN §7).
  const consumerLag = createConsumerLagProbe(busConfigFromEnv(config, SERVICE, logger), {
    prefix: config.CONCORD_TOPIC_PREFIX,
    consumers: downstreamConsumers(),
  });
  const ingest = createIngestModule({
    db,
    bus,
    ...(consumerLag === undefined ? {} : { consumerLag }),
    logger,
    registry: metrics.registry,
    schema: config.DATABASE_SCHEMA,
    options: {
      limits: { maxBatchSize: config.INGEST_MAX_BATCH_EVENTS, maxEventBytes: config.INGEST_MAX_EVENT_BYTES },
      bodyLimit: config.INGEST_MAX_BODY_BYTES,
      groupCommit: {
        maxEvents: config.INGEST_GROUP_COMMIT_EVENTS,
        maxBytes: config.INGEST_GROUP_COMMIT_BYTES,
        lingerMs: config.INGEST_GROUP_COMMIT_LINGER_MS,
        maxInFlight: config.INGEST_GROUP_COMMIT_CONCURRENCY,
      },
      submitConcurrency: config.INGEST_SUBMIT_CONCURRENCY,
      maxClockSkewMs: config.INGEST_MAX_CLOCK_SKEW_MS,
      admission: {
        maxOutboxRows: config.INGEST_ADMISSION_MAX_OUTBOX_ROWS,
        maxOutboxLagMs: config.INGEST_ADMISSION_MAX_OUTBOX_LAG_MS,
        maxConsumerLag: config.INGEST_ADMISSION_MAX_CONSUMER_LAG,
        sampleIntervalMs: config.INGEST_ADMISSION_SAMPLE_MS,
        retryAfterSeconds: config.INGEST_ADMISSION_RETRY_AFTER_S,
        stallMs: config.INGEST_ADMISSION_STALL_MS,
      },
    },
  });
  const pipeline = createPipelineModules({ service: SERVICE, db, bus, logger, metrics, env: config });

  await runService({
    service: SERVICE,
    port: config.PORT,
    access: await httpAccessFromEnv(config),
    logger,
    metrics,
    // Intake stops first, then the relay publishes what it wrote, then the bus and the pool close.
    modules: [ingest, ...pipeline],
    checks,
    clients,
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch(exitOnStartupFailure(SERVICE));
