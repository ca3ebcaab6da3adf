import { afterEach, describe } from 'vitest';
import type { MessageBus } from '../port.js';
import type { BusContractOptions, ContractRun } from './context.js';
import { deliveryContract } from './contract-delivery.js';
import { failureContract } from './contract-failures.js';
import { lifecycleContract } from './contract-lifecycle.js';
import { restartContract } from './contract-restart.js';
import { topologyContract } from './contract-topology.js';
import { uniqueSuffix } from './helpers.js';

/** Builds the per-test helpers and registers the hook that closes buses and cleans up after each test. */
const contractRun = (options: BusContractOptions): ContractRun => {
  let namespace = uniqueSuffix();
  let buses: MessageBus[] = [];
  let topics: string[] = [];
  let groups: string[] = [];
  const run: ContractRun = {
    options,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 20_000,
    testTimeoutMs: options.testTimeoutMs ?? 60_000,
    maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
    drainTimeoutMs: options.drainTimeoutMs ?? 1_000,
    bus: async () => {
      const bus = await options.create({
        namespace,
        maxMessageBytes: run.maxMessageBytes,
        drainTimeoutMs: run.drainTimeoutMs,
      });
      buses.push(bus);
      return bus;
    },
    topic: (label) => {
      const topic = `contract.${namespace}.${label}`;
      topics.push(topic);
      return topic;
    },
    group: (label) => {
      const group = `${label}-${namespace}`;
      groups.push(group);
      return group;
    },
  };
  afterEach(async () => {
    const used = { namespace, topics, groups };
    const closing = buses;
    buses = [];
    topics = [];
    groups = [];
    namespace = uniqueSuffix();
    await Promise.all(closing.map((bus) => bus.close()));
    await options.cleanup?.(used);
  });
  return run;
};

/**
 * Registers the MessageBus contract tests for one adapter (and the broker-restart test when
 * `restartBroker` is given). Every test works in its own namespace with unique topic and group
 * names, and closes the buses it created.
 *
 * ```ts
 * describeBusContract({
 *   name: 'rabbitmq',
 *   features: RABBITMQ_FEATURES,
 *   create: ({ namespace, maxMessageBytes, drainTimeoutMs }) =>
 *     createRabbitMqBus({ url, exchange: `concord.test.${namespace}`, maxMessageBytes, drainTimeoutMs }),
 * });
 * ```
 */
export const describeBusContract = (options: BusContractOptions): void => {
  describe(`MessageBus contract: ${options.name}`, () => {
    const run = contractRun(options);
    deliveryContract(run);
    failureContract(run);
    lifecycleContract(run);
    topologyContract(run);
    if (options.restartBroker !== undefined) restartContract(run, options.restartBroker);
  });
};

/**
 * Registers only the broker-restart test, for `*.chaos.int.test.ts` files (they run serially after the
 * other integration tests, since restarting a shared broker disturbs everything else).
 */
export const describeBusRestartContract = (
  options: BusContractOptions & { readonly restartBroker: () => Promise<void> },
): void => {
  describe(`MessageBus contract: ${options.name} across a broker restart`, () => {
    restartContract(contractRun(options), options.restartBroker);
  });
};
