import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import { createRelay } from '@concord/outbox';
import type { Database, Relay, RelayObserver, RelayOptions, RelayStats } from '@concord/outbox';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceModule } from './service.js';

export interface RelayModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly schema?: string;
  /** Further relay options (batch size, polling, leases). */
  readonly relay?: Omit<RelayOptions, 'db' | 'bus' | 'logger' | 'schema' | 'observer'>;
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

/** Current values, read from the relay's stats (one database query) when scraped. */
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
    name: 'concord_relay_partitions',
    help: 'Key partitions this relay holds leases on.',
    value: (s) => s.partitions.length,
  },
  {
    name: 'concord_relay_broker_outage',
    help: '1 while the broker is unreachable.',
    value: (s) => (s.brokerOutage ? 1 : 0),
  },
];

/** A metric of `registry` by name, created by `create` the first time. */
const once = <M>(registry: Registry, name: string, create: () => M): M =>
  (registry.getSingleMetric(name) as M | undefined) ?? create();

/**
 * What the relay does, as counters and histograms (they add up across replicas: `rate()` of the
 * counters is the throughput, `histogram_quantile()` of the buckets the lag percentiles).
 */
const relayObserver = (registry: Registry): RelayObserver => {
  const registers = [registry];
  const counter = (name: string, help: string) =>
    once(registry, name, () => new Counter({ name, help, registers }));
  const published = counter('concord_relay_published_total', 'Rows this relay published and marked.');
  const failed = counter(
    'concord_relay_failed_attempts_total',
    'Failed publish attempts of a row while the broker was reachable.',
  );
  const deadLettered = counter('concord_relay_dead_letters_total', 'Outbox rows this relay dead-lettered.');
  const fenced = counter(
    'concord_relay_fenced_total',
    'Rows this relay published but could not settle because its lease had moved on.',
  );
  const lag = once(
    registry,
    'concord_relay_publish_lag_seconds',
    () =>
      new Histogram({
        name: 'concord_relay_publish_lag_seconds',
        help: 'Commit-to-confirmation lag of each published outbox row (database clock).',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers,
      }),
  );
  const batch = once(
    registry,
    'concord_relay_publish_batch_seconds',
    () =>
      new Histogram({
        name: 'concord_relay_publish_batch_seconds',
        help: 'Duration of one publish call of the relay to the broker (a batch of rows).',
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
        registers,
      }),
  );
  return (event) => {
    switch (event.kind) {
      case 'published':
        published.inc(event.lagsMs.length);
        for (const ms of event.lagsMs) lag.observe(Math.max(0, ms) / 1000);
        return;
      case 'batch':
        batch.observe(event.seconds);
        return;
      case 'failed-attempt':
        failed.inc();
        return;
      case 'dead-lettered':
        deadLettered.inc();
        return;
      case 'fenced':
        fenced.inc(event.rows);
        return;
    }
  };
};

/**
 * The outbox relay as a module beside a service's own: started after them, closed after the modules
 * that write the outbox, its statistics on `/metrics`: counters and histograms of what it did, gauges of
 * the backlog (one stats query per scrape, shared by the gauges). A registry gets each metric once.
 */
export const createRelayModule = (deps: RelayModuleDeps): RelayModule => {
  const relay = createRelay({
    ...deps.relay,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    observer: relayObserver(deps.metrics.registry),
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
