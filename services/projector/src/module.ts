import type { MessageBus, RetryOptions, Subscription } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import type { Logger } from '@concord/core';
import { DEFAULT_SCHEMA, createEventStore, createOutbox } from '@concord/outbox';
import type { Database, EventStore } from '@concord/outbox';
import type { ServiceMetrics, ServiceModule } from '@concord/service-kit';
import type { ProjectionBackend } from './backend.js';
import { createCheckpoints } from './checkpoints.js';
import { createProjectionHandler } from './consumer.js';
import type { ProjectionBatchOptions } from './consumer.js';
import { createProjectorMetrics } from './metrics.js';
import { createOrchestrator } from './orchestrator.js';
import type { ProjectionOrchestrator } from './orchestrator.js';
import { createRebuilder } from './rebuild/rebuilder.js';
import type { Rebuilder } from './rebuild/rebuilder.js';
import { registerProjectorRoutes } from './routes.js';
import { projectionTables } from './tables.js';

export interface ProjectorModuleDeps {
  readonly db: Database;
  /** Already namespaced (`CONCORD_TOPIC_PREFIX`) by the composition root. */
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /**
   * The read models, in write order (the transactional store first, caches after it). The module
   * dispatches to them by their declared capabilities only.
   */
  readonly backends: readonly ProjectionBackend[];
  /** Schema of Concord's tables. Default `concord`. */
  readonly schema?: string;
  /** Consumer group and inbox consumer name. Default `projector`. */
  readonly group?: string;
  /**
   * Messages handled at once across keys. Default 256: the messages in flight are what batches form
   * from (RabbitMQ's default prefetch is 4 × this).
   */
  readonly concurrency?: number;
  /** Group commit of consumed messages (messages per transaction, transactions at once, linger). */
  readonly batch?: ProjectionBatchOptions;
  readonly retry?: RetryOptions;
  /** The event store rebuilds replay and aggregate histories read. Default: the store in `schema`. */
  readonly store?: EventStore;
  readonly now?: () => number;
  /**
   * Aggregate types with a metric label of their own, besides those a backend names; every other type
   * is labelled `other` (DESIGN §8: no user-chosen value as a label without a bound).
   */
  readonly metricTypes?: readonly string[];
}

export const DEFAULT_PROJECTOR_CONCURRENCY = 256;

export interface ProjectorModule extends ServiceModule {
  readonly orchestrator: ProjectionOrchestrator;
  readonly rebuilder: Rebuilder;
}

/**
 * The projector: consumes applied changes and resolutions, keeps every backend's read model,
 * emits `concord.aggregates.projected` through the outbox, serves `GET /v1/aggregates/:type/:id` (and
 * its history, from the event store) and rebuilds from the event store on demand. Run a relay module
 * beside it.
 */
export const createProjectorModule = (deps: ProjectorModuleDeps): ProjectorModule => {
  const schema = deps.schema ?? DEFAULT_SCHEMA;
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ module: 'projector' });
  const tables = projectionTables(schema);
  const orchestrator = createOrchestrator(deps.backends);
  const metrics = createProjectorMetrics(deps.metrics, {
    knownTypes: [
      ...(deps.metricTypes ?? []),
      ...deps.backends.flatMap((backend) =>
        backend.capabilities.aggregateTypes === '*' ? [] : backend.capabilities.aggregateTypes,
      ),
    ],
  });
  const checkpoints = createCheckpoints({ schema });
  const store = deps.store ?? createEventStore({ schema });
  const rebuilder = createRebuilder({
    db: deps.db,
    store,
    orchestrator,
    tables,
    schema,
    metrics,
    logger,
    now,
  });
  const handler = createProjectionHandler({
    db: deps.db,
    orchestrator,
    outbox: createOutbox({ schema }),
    checkpoints,
    metrics,
    logger,
    consumer: deps.group ?? 'projector',
    schema,
    now,
    ...(deps.batch === undefined ? {} : { batch: deps.batch }),
  });

  let subscription: Subscription | undefined;
  let closing: Promise<void> | undefined;
  return {
    name: 'projector',
    orchestrator,
    rebuilder,
    routes: (app) =>
      registerProjectorRoutes(app, { db: deps.db, store, orchestrator, rebuilder, checkpoints, logger }),
    async start() {
      if (subscription !== undefined || closing !== undefined) return;
      subscription = await deps.bus.subscribe({
        group: deps.group ?? 'projector',
        topics: [Topics.applied, Topics.conflictResolved],
        handler,
        concurrency: deps.concurrency ?? DEFAULT_PROJECTOR_CONCURRENCY,
        ...(deps.retry === undefined ? {} : { retry: deps.retry }),
      });
      logger.info({ backends: deps.backends.map((b) => b.name) }, 'projector consuming');
    },
    close() {
      closing ??= (async () => {
        await subscription?.close();
        await handler.close();
      })();
      return closing;
    },
  };
};
