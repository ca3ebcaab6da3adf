import type { Logger } from '@concord/core';
import type { Relay, RelayStats } from '@concord/outbox';
import type { ServiceModule } from '@concord/service-kit';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export interface RelayModuleOptions {
  readonly relay: Relay;
  /** Where the relay's gauges register; omit to expose none. */
  readonly registry?: Registry;
  readonly logger: Logger;
  /** Stats are read at most this often (one database query each). Default 1000 ms. */
  readonly statsMaxAgeMs?: number;
}

/**
 * The outbox relay as a module beside the service's own: started after the routes, closed after the
 * module that writes the outbox, and its stats exposed as Prometheus gauges (backlog, lag, throughput).
 */
export const createRelayModule = (options: RelayModuleOptions): ServiceModule => {
  const { relay } = options;
  const maxAge = options.statsMaxAgeMs ?? 1000;
  let cached: { at: number; stats: Promise<RelayStats | undefined> } | undefined;
  const stats = (): Promise<RelayStats | undefined> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > maxAge) {
      cached = {
        at: now,
        stats: relay.stats().catch((error: unknown) => {
          options.logger.warn({ err: error }, 'relay stats unavailable');
          return undefined;
        }),
      };
    }
    return cached.stats;
  };

  if (options.registry !== undefined) {
    const gauge = (name: string, help: string, read: (s: RelayStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [options.registry as Registry],
        async collect() {
          const s = await stats();
          if (s !== undefined) this.set(read(s));
        },
      });
    gauge('concord_outbox_pending_messages', 'Outbox rows not yet published (backlog).', (s) => s.pending);
    gauge(
      'concord_outbox_oldest_pending_age_seconds',
      'Age of the oldest unpublished outbox row (outbox lag).',
      (s) => s.oldestPendingAgeMs / 1000,
    );
    gauge('concord_outbox_dead_letter_messages', 'Outbox rows dead-lettered.', (s) => s.deadLetterRows);
    gauge('concord_relay_published_messages', 'Rows this relay published since start.', (s) => s.published);
    gauge(
      'concord_relay_published_per_second',
      'Rows this relay published per second over the last ten seconds.',
      (s) => s.publishedPerSec,
    );
    gauge(
      'concord_relay_lag_p50_seconds',
      'Median commit-to-confirmation lag of recent rows.',
      (s) => s.lagMs.p50 / 1000,
    );
    gauge(
      'concord_relay_lag_p99_seconds',
      '99th percentile commit-to-confirmation lag of recent rows.',
      (s) => s.lagMs.p99 / 1000,
    );
    gauge('concord_relay_partitions', 'Key partitions this relay holds.', (s) => s.partitions.length);
    gauge('concord_relay_broker_outage', '1 while the broker is unreachable.', (s) =>
      s.brokerOutage ? 1 : 0,
    );
  }

  return {
    name: 'outbox-relay',
    start() {
      relay.start();
      return Promise.resolve();
    },
    close: () => relay.close(),
  };
};
