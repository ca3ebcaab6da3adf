import { createBus, namespacedBus } from '@concord/bus';
import type { BusConfig } from '@concord/bus';
import type { Logger } from '@concord/core';
import { migrate, pgDatabase } from '@concord/outbox';
import { createLogger, createMetrics, runService } from '@concord/service-kit';
import pg from 'pg';
import { loadResolverConfig } from './config.js';
import type { ResolverConfig } from './config.js';
import { createResolverModule } from './module.js';
import { defaultPolicyPath } from './policy/default-path.js';
import { openPolicySource } from './policy/source.js';
import { createRelayModule } from './relay-module.js';

const SERVICE = 'resolver';

const busConfig = (config: ResolverConfig, logger: Logger): BusConfig => {
  switch (config.BROKER) {
    case 'rabbitmq':
      return { broker: 'rabbitmq', url: config.AMQP_URL ?? '', exchange: config.AMQP_EXCHANGE, logger };
    case 'kafka':
      return { broker: 'kafka', brokers: config.KAFKA_BROKERS ?? '', clientId: SERVICE, logger };
    case 'memory':
      return { broker: 'memory', logger };
  }
};

/** Composition root: config → logger → metrics → policy → database → migrations → bus → modules → run. */
const main = async (): Promise<void> => {
  const config = loadResolverConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
  const metrics = createMetrics(SERVICE);

  const policy = await openPolicySource({
    path: config.CONCORD_POLICY ?? defaultPolicyPath(),
    logger: logger.child({ component: 'policy' }),
    pollIntervalMs: config.POLICY_POLL_MS,
  });

  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_SIZE,
    application_name: SERVICE,
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle postgres connection failed'));
  const db = pgDatabase({ pool, logger, ownsPool: true });
  await migrate({ db, schema: config.DATABASE_SCHEMA, logger });

  const rawBus = await createBus(busConfig(config, logger));
  const bus = namespacedBus(rawBus, config.CONCORD_TOPIC_PREFIX);

  const resolver = createResolverModule({
    db,
    bus,
    logger,
    metrics,
    policy,
    schema: config.DATABASE_SCHEMA,
    concurrency: config.RESOLVER_CONCURRENCY,
    sweepIntervalMs: config.REVIEW_SWEEP_MS,
  });
  const relay = createRelayModule({ db, bus, logger, metrics, schema: config.DATABASE_SCHEMA });

  let databaseUp = true;
  const probe = setInterval(() => {
    db.query('SELECT 1').then(
      () => (databaseUp = true),
      () => (databaseUp = false),
    );
  }, 5_000);
  probe.unref();

  await runService({
    service: SERVICE,
    port: config.PORT,
    logger,
    metrics,
    // Consumers stop first, then the relay publishes what they wrote, then clients close (pool last).
    modules: [resolver, relay],
    checks: [
      { name: 'database', isReady: () => databaseUp },
      { name: 'broker', isReady: () => bus.isReady() },
    ],
    clients: [
      { name: 'probe', close: () => Promise.resolve(clearInterval(probe)) },
      { name: 'bus', close: () => bus.close() },
      { name: 'database', close: () => db.close() },
    ],
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch((error: unknown) => {
  // The logger may not exist yet (invalid config): report on stderr and fail.
  process.stderr.write(
    `resolver failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  if (error instanceof Error && 'details' in error && error.details !== undefined) {
    process.stderr.write(`${JSON.stringify(error.details)}\n`);
  }
  process.exit(1);
});
