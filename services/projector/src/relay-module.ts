import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { createRelay } from '@concord/outbox';
import type { Database, Relay, RelayOptions, RelayStats } from '@concord/outbox';
import type { ServiceMetrics, ServiceModule } from '@concord/service-kit';
import { Gauge } from 'prom-client';

export interface RelayModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly schema?: string;
  /** Further relay options (batch size, polling, leases). */
  readonly relay?: Omit<RelayOptions, 'db' | 'bus' | 'logger' | 'schema'>;
}

export interface RelayModule extends ServiceModule {
  readonly relay: Relay;
}

const gauges: readonly { name: string; help: string; value: (s: RelayStats) => number }[] = [
  { name: 'concord_outbox_pending', help: 'Outbox rows not yet published.', value: (s) => s.pending },
  {
    name: 'concord_outbox_lag_seconds',
    help: 'Age of the oldest unpublished outbox row.',
    value: (s) => s.oldestPendingAgeMs / 1000,
  },
  { name: 'concord_outbox_dead_letters', help: 'Dead-lettered outbox rows.', value: (s) => s.deadLetterRows },
  {
    name: 'concord_relay_published',
    help: 'Rows this relay published since start.',
    value: (s) => s.published,
  },
  {
    name: 'concord_relay_published_per_second',
    help: 'Rows published per second over the last ten seconds.',
    value: (s) => s.publishedPerSec,
  },
  {
    name: 'concord_relay_failed_attempts',
    help: 'Failed publish attempts since start.',
    value: (s) => s.failedAttempts,
  },
  {
    name: 'concord_relay_partitions',
    help: 'Key partitions this relay leases.',
    value: (s) => s.partitions.length,
  },
  {
    name: 'concord_relay_publish_lag_p99_seconds',
    help: 'p99 commit-to-confirmation lag of recently published rows.',
    value: (s) => s.lagMs.p99 / 1000,
  },
  {
    name: 'concord_relay_broker_outage',
    help: '1 while the broker is unreachable.',
    value: (s) => (s.brokerOutage ? 1 : 0),
  },
];

/** The outbox relay as a service module, with its statistics on `/metrics`. */
export const createRelayModule = (deps: RelayModuleDeps): RelayModule => {
  const relay = createRelay({
    ...deps.relay,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    ...(deps.schema === undefined ? {} : { schema: deps.schema }),
  });
  const registry = deps.metrics.registry;
  let snapshot: Promise<RelayStats> | undefined;
  // One stats query per scrape, shared by every gauge.
  const stats = () => {
    snapshot ??= relay.stats().finally(() => {
      setTimeout(() => (snapshot = undefined), 100).unref();
    });
    return snapshot;
  };
  for (const gauge of gauges) {
    if (registry.getSingleMetric(gauge.name) !== undefined) continue;
    new Gauge({
      name: gauge.name,
      help: gauge.help,
      registers: [registry],
      async collect() {
        this.set(gauge.value(await stats()));
      },
    });
  }
  let closing: Promise<void> | undefined;
  return {
    name: 'outbox-relay',
    relay,
    start() {
      relay.start();
      return Promise.resolve();
    },
    close() {
      closing ??= relay.close();
      return closing;
    },
  };
};
