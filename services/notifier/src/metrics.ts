import type { ServiceMetrics } from '@concord/service-kit';
import { Counter, Gauge } from 'prom-client';
import type { CircuitStateName } from './delivery/breakers.js';

type Registry = ServiceMetrics['registry'];

export type DeliveryResult = 'delivered' | 'failed' | 'circuit_open' | 'cancelled' | 'dead_lettered';

/** The notifier's metrics (registered on the service's registry). */
export interface NotifierMetrics {
  readonly notifications: Counter<'kind'>;
  readonly deliveries: Counter<'result'>;
  readonly deadLetters: Counter;
  readonly sseClients: Gauge;
  readonly dispatchErrors: Counter;
  /**
   * Where `concord_notifier_circuits{state}` reads, at each scrape, how many endpoints' circuits are in
   * each state. Endpoints (webhook URLs) are chosen by whoever subscribes, so they are no label: the
   * series are the four states, however many endpoints there are; which endpoint changed is logged.
   */
  observeCircuits(counts: () => Readonly<Record<CircuitStateName, number>>): void;
}

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half_open', 'isolated'];

export const createNotifierMetrics = (registry: Registry): NotifierMetrics => {
  const registers = [registry];
  let circuitCounts: (() => Readonly<Record<CircuitStateName, number>>) | undefined;
  new Gauge({
    name: 'concord_notifier_circuits',
    help: 'Webhook endpoints whose circuit breaker is in each state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = circuitCounts?.();
      for (const state of CIRCUIT_STATES) this.set({ state }, counts?.[state] ?? 0);
    },
  });
  return {
    notifications: new Counter({
      name: 'concord_notifier_notifications_total',
      help: 'Notifications appended to the log.',
      labelNames: ['kind'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'concord_notifier_webhook_deliveries_total',
      help: 'Webhook delivery attempts by result (delivered, failed, circuit_open, cancelled, dead_lettered).',
      labelNames: ['result'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'concord_notifier_dead_letters_total',
      help: 'Webhook deliveries dead-lettered.',
      registers,
    }),
    sseClients: new Gauge({
      name: 'concord_notifier_sse_clients',
      help: 'Connected Server-Sent Events clients.',
      registers,
    }),
    dispatchErrors: new Counter({
      name: 'concord_notifier_dispatch_errors_total',
      help: 'Failed attempts to move pending deliveries into the job queue.',
      registers,
    }),
    observeCircuits(counts) {
      circuitCounts = counts;
    },
  };
};
