import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { createRelay } from '@concord/outbox';
import type { Database, Relay, RelayOptions, RelayStats } from '@concord/outbox';
import { Gauge } from 'prom-client';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceModule } from './service.js';

export interface RelayModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly schema?: string;
  /** Further relay options (batch size, polling, leases). */
  readonly relay?: Omit<RelayOptions, 'db' | 'bus' | 'logger' | 'schema'>;
  /** Stats are read at most this often (one database query each). Default 1000 ms. */
  readonly statsMaxAgeMs?: number;
}

export interface RelayModule extends ServiceModule {
  readonly relay: Relay;
}

interface RelayGauge {
  readonly name: string;
  readonly help: string;
  readonly value: (stats: RelayStats) => number;
}

const GAUGES: readonly RelayGauge[] = [
  {
    name: 'concord_outbox_pending_messages',
    help: 'Outbox rows not yet published.',
    value: (s) => s.pending,
  },
  {
    name: 'concord_outbox_lag_seconds',
    help: 'Age of the oldest unpublished outbox row.',
    value: (s) => s.oldestPendingAgeMs / 1000,
  },
  {
    name: 'concord_outbox_dead_letters',
    help: 'Dead-lettered outbox rows.',
    value: (s) => s.deadLetterRows,
  },
  {
    name: 'concord_relay_published_total',
    help: 'Rows this relay published since start.',
    value: (s) => s.published,
  },
  {
    name: 'concord_relay_published_per_second',
    help: 'Rows published per second over the last ten seconds.',
    value: (s) => s.publishedPerSec,
  },
  {
    name: 'concord_relay_failed_attempts_total',
    help: 'Failed publish attempts since start.',
    value: (s) => s.failedAttempts,
  },
  {
    name: 'concord_relay_fenced_total',
    help: 'Rows this relay published but could not settle because its lease had moved on, since start.',
    value: (s) => s.fenced,
  },
  {
    name: 'concord_relay_partitions',
    help: 'Key partitions this relay holds leases on.',
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

/**
 * The outbox relay as a module beside a service's own: started after them, closed after the modules
 * that write the outbox, its statistics on `/metrics` (one stats query per scrape, shared by the gauges).
 * A registry gets the gauges once, so the all-in-one process can run one relay for all four services.
 */
export const createRelayModule = (deps: RelayModuleDeps): RelayModule => {
  const relay = createRelay({
    ...deps.relay,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    ...(deps.schema === undefined ? {} : { schema: deps.schema }),
  });
  const maxAge = deps.statsMaxAgeMs ?? 1000;
  let cached: { readonly at: number; readonly stats: Promise<RelayStats | undefined> } | undefined;
  const stats = (): Promise<RelayStats | undefined> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > maxAge) {
      const pending = relay.stats().catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'relay stats unavailable');
        return undefined;
      });
      cached = { at: now, stats: pending };
    }
    return cached.stats;
  };
  const registry = deps.metrics.registry;
  for (const gauge of GAUGES) {
    if (registry.getSingleMetric(gauge.name) !== undefined) continue;
    new Gauge({
      name: gauge.name,
      help: gauge.help,
      registers: [registry],
      async collect() {
        const current = await stats();
        if (current !== undefined) this.set(gauge.value(current));
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
