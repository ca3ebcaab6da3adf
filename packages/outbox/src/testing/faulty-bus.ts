import type { MessageBus, OutgoingMessage } from '@concord/bus';

export interface FaultyBusOptions {
  /** Returns an error to fail a publish call containing this message, or undefined to let it through. */
  readonly failWhen?: (topic: string, message: OutgoingMessage) => Error | undefined;
  /** Awaited before every publish: lets a test stall a relay mid-batch. */
  readonly beforePublish?: (topic: string, messages: readonly OutgoingMessage[]) => Promise<void>;
  /** Overrides `isReady()` (e.g. to simulate a broker outage). */
  readonly ready?: () => boolean;
}

/** Wraps a bus to inject publish failures and stalls; everything else passes through. */
export const faultyBus = (bus: MessageBus, options: FaultyBusOptions): MessageBus => ({
  name: `faulty-${bus.name}`,
  features: bus.features,
  async publish(topic, messages) {
    await options.beforePublish?.(topic, messages);
    for (const message of messages) {
      const error = options.failWhen?.(topic, message);
      if (error !== undefined) throw error;
    }
    await bus.publish(topic, messages);
  },
  declare: (topology) => bus.declare(topology),
  subscribe: (subscribeOptions) => bus.subscribe(subscribeOptions),
  isReady: () => options.ready?.() ?? bus.isReady(),
  close: () => bus.close(),
});
