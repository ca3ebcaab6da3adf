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
  readonly circuitState: Gauge<'endpoint' | 'state'>;
  readonly sseClients: Gauge;
  readonly dispatchErrors: Counter;
  /** Records an endpoint's circuit state as a one-hot gauge over the states. */
  circuit(endpoint: string, state: CircuitStateName): void;
}

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half_open', 'isolated'];

export const createNotifierMetrics = (registry: Registry): NotifierMetrics => {
  const registers = [registry];
  const circuitState = new Gauge({
    name: 'concord_notifier_circuit_state',
    help: 'Circuit breaker state per webhook endpoint (1 for the current state).',
    labelNames: ['endpoint', 'state'] as const,
    registers,
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
    circuitState,
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
    circuit(endpoint, state) {
      for (const candidate of CIRCUIT_STATES)
        circuitState.set({ endpoint, state: candidate }, candidate === state ? 1 : 0);
    },
  };
};
