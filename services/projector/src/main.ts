import { topologyOf } from '@concord/core/messages';
import {
  connectInfrastructure,
  createLogger,
  createMetrics,
  createPipelineModules,
  exitOnStartupFailure,
  httpAccessFromEnv,
  runService,
} from '@concord/service-kit';
import { Redis } from 'ioredis';
import type { ProjectionBackend } from './backend.js';
import { createPostgresBackend } from './backends/postgres.js';
import { createRedisBackend } from './backends/redis.js';
import { loadProjectorConfig } from './config.js';
import { projectorMigrations } from './migrations.js';
import { createProjectorModule } from './module.js';

const SERVICE = 'projector';

/** Composition root: config → logger → metrics → database (migrated) and bus → Redis → modules → run. */
const main = async (): Promise<void> => {
  const config = loadProjectorConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const metrics = createMetrics(SERVICE);
  const infra = await connectInfrastructure(config, {
    service: SERVICE,
    logger,
    metrics,
    topology: topologyOf(SERVICE),
    migrations: [projectorMigrations],
  });
  const { db, bus } = infra;

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
    metricTypes: config.PROJECTOR_METRIC_TYPES,
  });
  const pipeline = createPipelineModules({ service: SERVICE, db, bus, logger, metrics, env: config });

  await runService({
    service: SERVICE,
    port: config.PORT,
    access: await httpAccessFromEnv(config),
    logger,
    metrics,
    modules: [projector, ...pipeline],
    checks: [
      ...infra.checks,
      ...(redis === undefined ? [] : [{ name: 'redis', isReady: () => redis.status === 'ready' }]),
    ],
    // Redis first, then the bus, the database pool last.
    clients: [
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
      ...infra.clients,
    ],
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch(exitOnStartupFailure(SERVICE));
