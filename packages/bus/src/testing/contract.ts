import { afterEach, describe } from 'vitest';
import type { MessageBus } from '../port.js';
import type { BusContractOptions, ContractRun } from './context.js';
import { deliveryContract } from './contract-delivery.js';
import { failureContract } from './contract-failures.js';
import { lifecycleContract } from './contract-lifecycle.js';
import { uniqueSuffix } from './helpers.js';

/**
 * Registers the MessageBus contract tests for one adapter. Every test works in its own namespace with
 * unique topic and group names, and closes the buses it created.
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
    let namespace = uniqueSuffix();
    let buses: MessageBus[] = [];
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
      topic: (label) => `contract.${namespace}.${label}`,
      group: (label) => `${label}-${namespace}`,
    };

    afterEach(async () => {
      const closing = buses;
      buses = [];
      namespace = uniqueSuffix();
      await Promise.all(closing.map((bus) => bus.close()));
    });

    deliveryContract(run);
    failureContract(run);
    lifecycleContract(run);
  });
};
