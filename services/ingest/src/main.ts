import { createBus, namespacedBus } from '@concord/bus';
import type { BusConfig, MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { createRelay, migrate, pgDatabase } from '@concord/outbox';
import { createLogger, createMetrics, runService } from '@concord/service-kit';
import pg from 'pg';
import type { IngestConfig } from './config.js';
import { loadIngestConfig } from './config.js';
import { createIngestModule } from './module.js';
import { createRelayModule } from './relay-module.js';

const SERVICE = 'ingest';

const busConfig = (config: IngestConfig, logger: Logger): BusConfig => {
  switch (config.BROKER) {
    case 'rabbitmq':
      return {
        broker: 'rabbitmq',
        url: config.AMQP_URL ?? '',
        exchange: config.AMQP_EXCHANGE,
        logger,
        connectionName: SERVICE,
      };
    case 'kafka':
      return { broker: 'kafka', brokers: config.KAFKA_BROKERS ?? '', clientId: SERVICE, logger };
    case 'memory':
      return { broker: 'memory', logger };
  }
};

/** Composition root: config → logger → metrics → database → migrations → bus → modules → run. */
const main = async (): Promise<void> => {
  const config = loadIngestConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
  const metrics = createMetrics(SERVICE);

  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_SIZE,
    application_name: SERVICE,
  });
  const db = pgDatabase({ pool, logger, ownsPool: true });
  await migrate({ db, schema: config.DATABASE_SCHEMA, logger });

  const rawBus: MessageBus = await createBus(busConfig(config, logger));
  const bus = namespacedBus(rawBus, config.CONCORD_TOPIC_PREFIX);

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
  const relay = createRelayModule({
    relay: createRelay({ db, bus, schema: config.DATABASE_SCHEMA, logger }),
    registry: metrics.registry,
    logger,
  });

  await runService({
    service: SERVICE,
    port: config.PORT,
    logger,
    metrics,
    modules: [ingest, relay],
    checks: [
      {
        name: 'database',
        isReady: () =>
          db.query('SELECT 1').then(
            () => true,
            () => false,
          ),
      },
      { name: 'broker', isReady: () => bus.isReady() },
    ],
    clients: [
      { name: 'bus', close: () => bus.close() },
      { name: 'database', close: () => db.close() },
    ],
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch((error: unknown) => {
  // Startup failed (bad config, unreachable database or broker): say why on stderr and exit non-zero.
  process.stderr.write(`ingest failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
