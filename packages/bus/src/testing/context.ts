import type { BusFeatures, MessageBus } from '../port.js';

/** What a contract test hands to the adapter factory. */
export interface BusContractContext {
  /**
   * Unique per test. Buses created with the same namespace must reach each other (one broker, one
   * exchange); adapters may use it to isolate tests, e.g. as part of the RabbitMQ exchange name.
   */
  readonly namespace: string;
  /** Pass through as the adapter's message size limit: the oversize test relies on it. */
  readonly maxMessageBytes: number;
  /** Pass through as the adapter's drain deadline for `close()`. */
  readonly drainTimeoutMs: number;
}

export interface BusContractOptions {
  /** Shown in the test names, e.g. `rabbitmq`. */
  readonly name: string;
  /** What the adapter guarantees; tests of features it lacks are not registered. */
  readonly features: BusFeatures;
  /** Creates a bus; called once or more per test. The suite closes every bus it created. */
  readonly create: (context: BusContractContext) => MessageBus | Promise<MessageBus>;
  /** Restarts the broker (and resolves once it accepts connections again) for the durability test. */
  readonly restartBroker?: () => Promise<void>;
  /**
   * Called after each test (its buses closed) with the names it used, to delete broker resources
   * (queues, exchanges, topics). Optional.
   */
  readonly cleanup?: (used: {
    readonly namespace: string;
    readonly topics: readonly string[];
    readonly groups: readonly string[];
  }) => Promise<void>;
  /** How long to wait for deliveries. Default 20 s. */
  readonly deliveryTimeoutMs?: number;
  /** Per-test timeout. Default 60 s (restart test: 240 s). */
  readonly testTimeoutMs?: number;
  /** Default 64 KiB. */
  readonly maxMessageBytes?: number;
  /** Default 1 s. */
  readonly drainTimeoutMs?: number;
}

/** Per-test helpers the contract's test groups share. */
export interface ContractRun {
  readonly options: BusContractOptions;
  readonly deliveryTimeoutMs: number;
  readonly testTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly drainTimeoutMs: number;
  /** A bus in the current test's namespace, closed after the test. */
  bus(): Promise<MessageBus>;
  /** Unique topic / group names for the current test. */
  topic(label: string): string;
  group(label: string): string;
}
