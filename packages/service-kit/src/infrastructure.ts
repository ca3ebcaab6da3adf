import { cloudEventsBus, createBus, namespacedBus, realTimers, sleep } from '@concord/bus';
import type { BusConfig, MessageBus, TopicDeclaration } from '@concord/bus';
import { isRetryable } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { Logger } from '@concord/core';
import { baseMigrations, migrate, pgDatabase } from '@concord/outbox';
import type { Database, MigrationSource } from '@concord/outbox';
import pg from 'pg';
import type { ReadinessCheck } from './http.js';
import type { Closeable } from './lifecycle.js';
import type { ServiceMetrics } from './metrics.js';

/** The part of a service's parsed environment that says where its database and broker are. */
export interface InfrastructureEnv {
  readonly DATABASE_URL: string;
  readonly DATABASE_POOL_SIZE: number;
  readonly DATABASE_SCHEMA: string;
  readonly BROKER: 'rabbitmq' | 'kafka' | 'memory';
  readonly AMQP_URL?: string | undefined;
  readonly AMQP_EXCHANGE: string;
  /** One active consumer per group queue, the others standing by (absent: true). */
  readonly AMQP_SINGLE_ACTIVE_CONSUMER?: boolean;
  /** Shards of every group queue, the same for every service (absent: the bus's default, 4). */
  readonly AMQP_SHARDS?: number;
  readonly KAFKA_BROKERS?: string | undefined;
  readonly CONCORD_TOPIC_PREFIX: string;
  /** Outcome messages as binary-mode CloudEvents (absent: false). */
  readonly CONCORD_CLOUDEVENTS_OUTCOMES?: boolean;
}

/** The adapter configuration `BROKER` and its address select (validated by `withBrokerUrls`). */
export const busConfigFromEnv = (env: InfrastructureEnv, service: string, logger: Logger): BusConfig => {
  switch (env.BROKER) {
    case 'rabbitmq':
      return {
        broker: 'rabbitmq',
        url: env.AMQP_URL ?? '',
        exchange: env.AMQP_EXCHANGE,
        // Order per key across a group's instances: competing consumers on one queue take a key's
        // messages in parallel, and a later one can finish first (DESIGN §4).
        singleActiveConsumer: env.AMQP_SINGLE_ACTIVE_CONSUMER ?? true,
        // The instances of a service share a group's work through its shards, each consumed by one
        // instance at a time (DESIGN §4).
        ...(env.AMQP_SHARDS === undefined ? {} : { shards: env.AMQP_SHARDS }),
        connectionName: service,
        logger,
      };
    case 'kafka':
      return { broker: 'kafka', brokers: env.KAFKA_BROKERS ?? '', clientId: service, logger };
    case 'memory':
      return { broker: 'memory', logger };
  }
};

/** `config` with the service's bus metrics: consumers' throughput and failures, unroutable publishes. */
export const withBusMetrics = (config: BusConfig, metrics: ServiceMetrics): BusConfig => {
  const observer = metrics.consumerObserver;
  // Kafka keeps every topic's messages for groups that join later: nothing is ever unroutable there.
  return config.broker === 'kafka'
    ? { ...config, observer }
    : { ...config, observer, publishObserver: metrics.publishObserver };
};

/** How long a starting service keeps trying to declare its topology (as long as RabbitMQ's first connect). */
const DECLARE_TIMEOUT_MS = 30_000;

/**
 * Declares `topology`, trying again with backoff while the broker answers with a retryable error (a
 * Kafka broker still starting, say) until `timeoutMs` has passed; then the error goes to the caller.
 */
export const declareWithin = async (
  bus: MessageBus,
  options: {
    readonly topology: readonly TopicDeclaration[];
    readonly timeoutMs: number;
    readonly logger: Logger;
  },
): Promise<void> => {
  const { topology, timeoutMs, logger } = options;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      await bus.declare(topology);
      return;
    } catch (error) {
      if (!isRetryable(error) || Date.now() + delay > deadline) throw error;
      logger.warn({ err: error, retryInMs: delay }, 'could not declare the topology; retrying');
      await sleep(realTimers, delay);
    }
  }
};

/** A database whose readiness is probed in the background, so `/readyz` answers without a query. */
export interface ProbedDatabase {
  readonly db: Database;
  readonly check: ReadinessCheck;
  /** Stops the probe and closes the pool. */
  readonly client: Closeable;
}

/** Opens the service's Postgres pool, probes it for readiness every `probeMs`. */
export const openPostgres = (
  env: InfrastructureEnv,
  options: { readonly service: string; readonly logger: Logger; readonly probeMs?: number },
): ProbedDatabase => {
  const pool = new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: env.DATABASE_POOL_SIZE,
    application_name: options.service,
  });
  pool.on('error', (error) => options.logger.warn({ err: error }, 'idle postgres connection failed'));
  const db = pgDatabase({ pool, logger: options.logger, ownsPool: true });
  let up = true;
  const probe = setInterval(() => {
    db.query('SELECT 1').then(
      () => (up = true),
      () => (up = false),
    );
  }, options.probeMs ?? 2_000);
  probe.unref();
  return {
    db,
    check: { name: 'database', isReady: () => up },
    client: {
      name: 'database',
      close: () => {
        clearInterval(probe);
        return db.close();
      },
    },
  };
};

export interface Infrastructure {
  readonly db: Database;
  /** The bus, namespaced by `CONCORD_TOPIC_PREFIX`. */
  readonly bus: MessageBus;
  /** Readiness of the database and the broker. */
  readonly checks: readonly ReadinessCheck[];
  /** Closed after the modules: the bus, then the database pool last. */
  readonly clients: readonly Closeable[];
}

/**
 * What every standalone service connects to at start: Postgres (migrated, so any service may start
 * first) and the configured broker, with `topology` declared on it before any module starts, so the
 * relay's first publish already finds the queues of every group downstream. Only composition roots
 * call this.
 */
export const connectInfrastructure = async (
  env: InfrastructureEnv,
  options: {
    readonly service: string;
    readonly logger: Logger;
    /** Where the bus consumers' metrics go. */
    readonly metrics?: ServiceMetrics;
    /**
     * Declared on the bus (namespaced like everything else): the groups that read what the service
     * publishes, and its own (`topologyOf(service)` from core, DESIGN §4).
     */
    readonly topology: readonly TopicDeclaration[];
    /** The service's own tables' migrations, applied after the outbox's and the event store's. */
    readonly migrations?: readonly MigrationSource[];
  },
): Promise<Infrastructure> => {
  const database = openPostgres(env, options);
  try {
    await migrate({
      db: database.db,
      schema: env.DATABASE_SCHEMA,
      sets: [...baseMigrations, ...(options.migrations ?? [])],
      logger: options.logger,
    });
    const config = busConfigFromEnv(env, options.service, options.logger);
    const namespaced = namespacedBus(
      await createBus(options.metrics === undefined ? config : withBusMetrics(config, options.metrics)),
      env.CONCORD_TOPIC_PREFIX,
    );
    const bus =
      env.CONCORD_CLOUDEVENTS_OUTCOMES === true
        ? cloudEventsBus(namespaced, {
            source: `/concord/${options.service}`,
            topics: [Topics.outcome],
            binding: env.BROKER === 'rabbitmq' ? 'amqp' : 'kafka',
          })
        : namespaced;
    try {
      await declareWithin(bus, {
        topology: options.topology,
        timeoutMs: DECLARE_TIMEOUT_MS,
        logger: options.logger,
      });
    } catch (error) {
      await bus.close();
      throw error;
    }
    return {
      db: database.db,
      bus,
      checks: [database.check, { name: 'broker', isReady: () => bus.isReady() }],
      clients: [{ name: 'bus', close: () => bus.close() }, database.client],
    };
  } catch (error) {
    await database.client.close();
    throw error;
  }
};

/** Reports a failed start (bad config, unreachable database or broker) on stderr and exits 1. */
export const exitOnStartupFailure =
  (service: string) =>
  (error: unknown): never => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${service} failed to start: ${text}\n`);
    process.exit(1);
  };
