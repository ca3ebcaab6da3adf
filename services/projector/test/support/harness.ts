import { createMemoryBus, decodeJson, encodeJson } from '@concord/bus';
import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { EventEnvelope } from '@concord/core/envelope';
import type { AppliedMessage, ProjectedMessage } from '@concord/core/messages';
import { baseMigrations, createEventStore, createRelay } from '@concord/outbox';
import type { EventStore, Relay } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createHttpServer, createMetrics } from '@concord/service-kit';
import type { HttpServer, ServiceMetrics } from '@concord/service-kit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import type { ProjectionBackend } from '../../src/backend.js';
import { createPostgresBackend } from '../../src/backends/postgres.js';
import { createRedisBackend } from '../../src/backends/redis.js';
import { projectorMigrations } from '../../src/migrations.js';
import { createProjectorModule } from '../../src/module.js';
import type { ProjectorModule, ProjectorModuleDeps } from '../../src/module.js';

/** The shared test helpers (one definition, in `@concord/bus/testing`). */
import { delay, unique, waitFor } from '@concord/bus/testing';

export { delay, unique, waitFor };

export interface Harness {
  readonly t: TestDatabase;
  readonly bus: MessageBus;
  readonly redis: Redis;
  readonly keyPrefix: string;
  readonly store: EventStore;
  readonly relay: Relay;
  readonly metrics: ServiceMetrics;
  readonly projector: ProjectorModule;
  readonly http: HttpServer;
  /** Every `concord.aggregates.projected` message the relay published. */
  readonly projected: ProjectedMessage[];
  append(events: readonly EventEnvelope[]): Promise<void>;
  publishApplied(id: string, message: AppliedMessage): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly cachedTypes: readonly string[];
  readonly store?: (store: EventStore) => EventStore;
  /** Wraps the backends (Postgres, then Redis) the projector gets. */
  readonly backends?: (backends: ProjectionBackend[]) => ProjectionBackend[];
}

export const startHarness = async (options: HarnessOptions): Promise<Harness> => {
  // The tables the projector creates and no others, as in its own deployment.
  const t = await createTestDatabase({
    adminUrl: options.databaseUrl,
    sets: [...baseMigrations, projectorMigrations],
  });
  const bus = createMemoryBus({});
  const redis = new Redis(options.redisUrl, { lazyConnect: true });
  await redis.connect();
  const keyPrefix = `test:projector:${unique()}:`;
  const store = createEventStore({ schema: t.schema });
  const metrics = createMetrics('projector-test');
  const deps: ProjectorModuleDeps = {
    db: t.db,
    bus,
    logger: silentLogger,
    metrics,
    schema: t.schema,
    backends: (options.backends ?? ((backends) => backends))([
      createPostgresBackend({ schema: t.schema }),
      createRedisBackend({ redis, aggregateTypes: options.cachedTypes, keyPrefix }),
    ]),
    store: options.store?.(store) ?? store,
    retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 100 },
  };
  const projector = createProjectorModule(deps);
  const http = createHttpServer({ logger: silentLogger, metrics, checks: [], bodyLimit: 1024 * 1024 });
  await projector.routes?.(http.app);
  await http.app.ready();

  const projected: ProjectedMessage[] = [];
  const collector: Subscription = await bus.subscribe({
    group: `collector-${unique()}`,
    topics: [Topics.projected],
    handler: (message: IncomingMessage) => {
      projected.push(decodeJson(message.payload) as ProjectedMessage);
      return Promise.resolve();
    },
  });
  const relay = createRelay({ db: t.db, bus, schema: t.schema, pollIntervalMs: 50 });
  await projector.start();
  relay.start();

  return {
    t,
    bus,
    redis,
    keyPrefix,
    store,
    relay,
    metrics,
    projector,
    http,
    projected,
    async append(events) {
      await t.db.withTransaction((tx) => store.append(tx, events));
    },
    publishApplied: (id, message) =>
      bus.publish(Topics.applied, [{ id, key: message.aggregateId, payload: encodeJson(message) }]),
    async close() {
      await projector.close();
      await collector.close();
      await relay.close();
      await http.close();
      await bus.close();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
      await redis.quit();
      await t.close();
    },
  };
};

/**
 * Starts a harness for the enclosing `describe` (on the test run's Postgres and Redis) before its tests
 * and closes it after them; the returned function gives the running harness.
 */
export const useHarness = (options: Omit<HarnessOptions, 'databaseUrl' | 'redisUrl'>): (() => Harness) => {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness({
      databaseUrl: inject('DATABASE_URL'),
      redisUrl: inject('REDIS_URL'),
      ...options,
    });
  });
  afterAll(() => harness?.close());
  return () => {
    if (harness === undefined) throw new Error('the projector harness is not running');
    return harness;
  };
};
