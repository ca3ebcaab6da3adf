import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { createRelay } from '@concord/outbox';
import type { Database, RelayOptions, RelayStats } from '@concord/outbox';
import type { ServiceMetrics, ServiceModule } from '@concord/service-kit';
import { collected } from './prom.js';

export interface RelayModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly schema?: string;
  /** Further relay options (batch size, lease TTL, …). */
  readonly relay?: Partial<Omit<RelayOptions, 'db' | 'bus' | 'schema' | 'logger'>>;
}

/** The outbox relay as a service module, with its stats on /metrics. */
export const createRelayModule = (deps: RelayModuleDeps): ServiceModule => {
  const relay = createRelay({
    ...deps.relay,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    ...(deps.schema === undefined ? {} : { schema: deps.schema }),
  });
  let last: Promise<RelayStats | undefined> | undefined;
  const stats = () => {
    last ??= relay
      .stats()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'cannot read relay stats');
        return undefined;
      })
      .finally(() => setTimeout(() => (last = undefined), 0).unref());
    return last;
  };
  const sample = (name: string, help: string, read: (s: RelayStats) => number, type?: 'counter') =>
    collected(deps.metrics, {
      name,
      help,
      ...(type === undefined ? {} : { type }),
      collect: async () => {
        const s = await stats();
        return s === undefined ? [] : [{ labels: {}, value: read(s) }];
      },
    });
  sample('concord_outbox_pending', 'Outbox rows not yet published.', (s) => s.pending);
  sample(
    'concord_outbox_lag_seconds',
    'Age of the oldest unpublished outbox row.',
    (s) => s.oldestPendingAgeMs / 1000,
  );
  sample('concord_outbox_dead_letter_rows', 'Rows in outbox_dead_letters.', (s) => s.deadLetterRows);
  sample('concord_relay_published_total', 'Rows this relay published.', (s) => s.published, 'counter');
  sample(
    'concord_relay_dead_lettered_total',
    'Rows this relay dead-lettered.',
    (s) => s.deadLettered,
    'counter',
  );
  sample(
    'concord_relay_failed_attempts_total',
    'Failed publish attempts.',
    (s) => s.failedAttempts,
    'counter',
  );
  sample(
    'concord_relay_published_per_second',
    'Publish rate over the last ten seconds.',
    (s) => s.publishedPerSec,
  );
  sample('concord_relay_lag_p99_seconds', 'Commit-to-confirmation lag, p99.', (s) => s.lagMs.p99 / 1000);
  sample('concord_relay_partitions', 'Key partitions this relay holds.', (s) => s.partitions.length);
  return {
    name: 'relay',
    start: () => Promise.resolve(relay.start()),
    close: () => relay.close(),
  };
};
