import type { ServiceMetrics } from '@concord/service-kit';
import type { CircuitStateName } from './delivery/breakers.js';

type Registry = ServiceMetrics['registry'];
type RegisteredMetric = Parameters<Registry['registerMetric']>[0];
type Labels<L extends string> = Readonly<Record<L, string>>;

/**
 * A labelled counter or gauge exposed through the service's prom-client registry. (The notifier
 * package does not depend on prom-client directly; this implements the registry's metric protocol:
 * `name`, `get()`, `reset()`.)
 */
class LabelledMetric<L extends string> {
  readonly #values = new Map<string, { labels: Labels<L>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  #slot(labels: Labels<L>) {
    const key = JSON.stringify(Object.entries(labels).sort());
    let slot = this.#values.get(key);
    if (slot === undefined) {
      slot = { labels, value: 0 };
      this.#values.set(key, slot);
    }
    return slot;
  }

  inc(labels: Labels<L>, by = 1): void {
    this.#slot(labels).value += by;
  }

  set(labels: Labels<L>, value: number): void {
    this.#slot(labels).value = value;
  }

  value(labels: Labels<L>): number {
    return this.#slot(labels).value;
  }

  get() {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum' as const,
      values: [...this.#values.values()].map(({ labels, value }) => ({ labels: { ...labels }, value })),
    });
  }

  reset(): void {
    this.#values.clear();
  }
}

export type { LabelledMetric };

export type DeliveryResult = 'delivered' | 'failed' | 'circuit_open' | 'cancelled' | 'dead_lettered';

/** The notifier's metrics (registered on the service's registry). */
export interface NotifierMetrics {
  readonly notifications: LabelledMetric<'kind'>;
  readonly deliveries: LabelledMetric<'result'>;
  readonly deadLetters: LabelledMetric<never>;
  readonly circuitState: LabelledMetric<'endpoint' | 'state'>;
  readonly sseClients: LabelledMetric<never>;
  readonly dispatchErrors: LabelledMetric<never>;
  /** Records an endpoint's circuit state as a one-hot gauge over the states. */
  circuit(endpoint: string, state: CircuitStateName): void;
}

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half_open', 'isolated'];

export const createNotifierMetrics = (registry: Registry): NotifierMetrics => {
  const register = <M extends LabelledMetric<string>>(metric: M): M => {
    registry.registerMetric(metric as unknown as RegisteredMetric);
    return metric;
  };
  const circuitState = register(
    new LabelledMetric<'endpoint' | 'state'>(
      'concord_notifier_circuit_state',
      'Circuit breaker state per webhook endpoint (1 for the current state).',
      'gauge',
    ),
  );
  return {
    notifications: register(
      new LabelledMetric<'kind'>(
        'concord_notifier_notifications_total',
        'Notifications appended to the log.',
        'counter',
      ),
    ),
    deliveries: register(
      new LabelledMetric<'result'>(
        'concord_notifier_webhook_deliveries_total',
        'Webhook delivery attempts by result (delivered, failed, circuit_open, cancelled, dead_lettered).',
        'counter',
      ),
    ),
    deadLetters: register(
      new LabelledMetric<never>(
        'concord_notifier_dead_letters_total',
        'Webhook deliveries dead-lettered.',
        'counter',
      ),
    ),
    circuitState,
    sseClients: register(
      new LabelledMetric<never>(
        'concord_notifier_sse_clients',
        'Connected Server-Sent Events clients.',
        'gauge',
      ),
    ),
    dispatchErrors: register(
      new LabelledMetric<never>(
        'concord_notifier_dispatch_errors_total',
        'Failed attempts to move pending deliveries into the job queue.',
        'counter',
      ),
    ),
    circuit(endpoint, state) {
      for (const candidate of CIRCUIT_STATES)
        circuitState.set({ endpoint, state: candidate }, candidate === state ? 1 : 0);
    },
  };
};
