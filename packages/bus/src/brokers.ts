import { createKafkaBus } from './kafka/index.js';
import type { KafkaBusOptions } from './kafka/index.js';
import { createMemoryBus } from './memory/bus.js';
import type { MemoryBusOptions } from './memory/bus.js';
import type { MessageBus } from './port.js';
import { createRabbitMqBus } from './rabbitmq/bus.js';
import type { RabbitMqBusOptions } from './rabbitmq/options.js';
import { BusRegistry, unknownBroker } from './registry.js';

/** The adapters Concord ships, by the name `BROKER` selects them with. */
export const busRegistry = new BusRegistry()
  .register('memory', (options: MemoryBusOptions) => createMemoryBus(options))
  .register('rabbitmq', (options: RabbitMqBusOptions) => createRabbitMqBus(options))
  .register('kafka', (options: KafkaBusOptions) => createKafkaBus(options));

export type BrokerName = ReturnType<typeof busRegistry.names>[number];

/** The values `BROKER` accepts. */
export const BROKER_NAMES: readonly BrokerName[] = Object.freeze(busRegistry.names());

/** A broker name with the options of its adapter, e.g. `{ broker: 'rabbitmq', url }`. */
export type BusConfig =
  | ({ readonly broker: 'memory' } & MemoryBusOptions)
  | ({ readonly broker: 'rabbitmq' } & RabbitMqBusOptions)
  | ({ readonly broker: 'kafka' } & KafkaBusOptions);

/** Creates the bus a configuration names, through {@link busRegistry}. */
export const createBus = (config: BusConfig): Promise<MessageBus> => {
  const { broker, ...options } = config;
  return busRegistry.create(broker, options);
};

/** Checks a `BROKER` value; unknown names fail with `CONCORD_BUS_UNKNOWN_BROKER`. */
export const parseBrokerName = (value: string | undefined): BrokerName => {
  const name = value?.trim().toLowerCase() ?? '';
  if (!busRegistry.has(name)) throw unknownBroker(value, BROKER_NAMES);
  return name;
};
