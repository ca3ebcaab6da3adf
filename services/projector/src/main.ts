import { createBus, namespacedBus } from '@concord/bus';
import type { BusConfig, MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { migrate, pgDatabase } from '@concord/outbox';
import { createLogger, createMetrics, runService } from '@concord/service-kit';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { ProjectionBackend } from './backend.js';
import { createPostgresBackend } from './backends/postgres.js';
import { createRedisBackend } from './backends/redis.js';
import { loadProjectorConfig } from './config.js';
import type { ProjectorConfig } from './config.js';
import { createProjectorModule } from './module.js';
import { createRelayModule } from './relay-module.js';

const SERVICE = 'projector';

const busConfig = (config: ProjectorConfig, logger: Logger): BusConfig => {
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

/** Composition root: config → logger → metrics → database → migrations → bus → Redis → modules → run. */
const main = async (): Promise<void> => {
  const config = loadProjectorConfig(process.env);
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

  const redis =
    config.PROJECTOR_REDIS_TYPES.length > 0 && config.REDIS_URL !== undefined
      ? new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: SERVICE })
      : undefined;
  await redis?.connect();

  // Write order: the transactional read model first, the cache after it.
  const backends: ProjectionBackend[] = [createPostgresBackend({ schema: config.DATABASE_SCHEMA })];
  if (redis !== undefined) {
    backends.push(
      createRedisBackend({
        redis,
        aggregateTypes: config.PROJECTOR_REDIS_TYPES,
        keyPrefix: config.PROJECTOR_REDIS_KEY_PREFIX,
      }),
    );
  }

  const projector = createProjectorModule({
    db,
    bus,
    logger,
    metrics,
    backends,
    schema: config.DATABASE_SCHEMA,
    concurrency: config.PROJECTOR_CONCURRENCY,
  });
  const relay = createRelayModule({ db, bus, logger, metrics, schema: config.DATABASE_SCHEMA });

  await runService({
    service: SERVICE,
    port: config.PORT,
    logger,
    metrics,
    modules: [projector, relay],
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
      ...(redis === undefined ? [] : [{ name: 'redis', isReady: () => redis.status === 'ready' }]),
    ],
    clients: [
      { name: 'bus', close: () => bus.close() },
      ...(redis === undefined
        ? []
        : [
            {
              name: 'redis',
              close: async () => {
                if (redis.status !== 'end') await redis.quit().catch(() => redis.disconnect());
              },
            },
          ]),
      { name: 'database', close: () => db.close() },
    ],
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch((error: unknown) => {
  // Startup failed (bad config, unreachable database, broker or Redis): say why and exit non-zero.
  process.stderr.write(
    `projector failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
