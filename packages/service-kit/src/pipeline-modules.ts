import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { topologyOf } from '@concord/core/messages';
import type { ServiceName } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { consumerLagProbeFor, consumersIn, createConsumerLagModule } from './consumer-lag.js';
import { createDeadLettersModule } from './dead-letters/module.js';
import type { InfrastructureEnv } from './infrastructure.js';
import type { ServiceMetrics } from './metrics.js';
import { createRelayModule } from './relay-module.js';
import { createInboxRetentionModule } from './retention.js';
import type { ServiceModule } from './service.js';

export interface PipelineModulesDeps {
  readonly service: ServiceName;
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly env: InfrastructureEnv & {
    readonly OUTBOX_RETENTION_MS: number;
    readonly INBOX_RETENTION_MS: number;
    readonly RETENTION_INTERVAL_MS: number;
  };
}

/**
 * What a standalone service that consumes its groups and publishes through its outbox runs beside its
 * own module, in the order they stop after it: its outbox's and its groups' bus dead letters (collected
 * from `<topic>.dlq`, listed and replayed by /v1/dead-letters, DESIGN §5), the outbox relay (which
 * publishes what the service wrote, so it stops after the service), inbox retention (§7) and
 * `concord_consumer_lag{group,topic}` of its groups, sampled from the broker (§8).
 */
export const createPipelineModules = (deps: PipelineModulesDeps): readonly ServiceModule[] => {
  const { service, db, bus, logger, metrics, env } = deps;
  const topology = topologyOf(service);
  return [
    createDeadLettersModule({
      db,
      bus,
      logger,
      schema: env.DATABASE_SCHEMA,
      consumers: consumersIn(topology, service),
    }),
    createRelayModule({
      db,
      bus,
      logger,
      metrics,
      schema: env.DATABASE_SCHEMA,
      relay: { retentionMs: env.OUTBOX_RETENTION_MS },
    }),
    createInboxRetentionModule({
      db,
      metrics,
      logger,
      schema: env.DATABASE_SCHEMA,
      consumers: [service],
      env,
    }),
    createConsumerLagModule({
      probe: consumerLagProbeFor(env, { service, topology, logger }),
      metrics,
      logger,
    }),
  ];
};
