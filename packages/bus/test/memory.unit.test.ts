import { createMemoryBus } from '@concord/bus';
import { MemoryBroker } from '../src/memory/broker.js';
import { MEMORY_FEATURES } from '../src/memory/bus.js';
import { describeBusContract } from '@concord/bus/testing';

const brokers = new Map<string, MemoryBroker>();

describeBusContract({
  name: 'memory',
  features: MEMORY_FEATURES,
  deliveryTimeoutMs: 5_000,
  testTimeoutMs: 10_000,
  create: ({ namespace, maxMessageBytes, drainTimeoutMs }) => {
    // Buses of one test share a broker, like services sharing a real one.
    const broker = brokers.get(namespace) ?? new MemoryBroker();
    brokers.set(namespace, broker);
    return createMemoryBus({ memoryBroker: broker, maxMessageBytes, drainTimeoutMs });
  },
});
