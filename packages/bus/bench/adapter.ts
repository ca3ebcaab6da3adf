import type { MessageBus } from '@concord/bus';
import { batches, countdown, perSecond } from './workload.js';
import type { Throughput, Workload } from './workload.js';

/** The consumer group a benchmark round uses for `topic`. */
export const benchGroup = (topic: string): string => `bench-${topic.replaceAll('.', '-')}`.slice(0, 50);

/**
 * Publishes the workload through the bus (each batch awaited: resolved = confirmed), then subscribes a
 * group and times consumption from the first handled message to the last (no-op handler), so the time a
 * consumer takes to join does not count — the same as the raw baselines.
 * `prepare` subscribes and closes once first, for brokers where a group's queue must exist beforehand.
 */
export const measureBus = async (
  bus: MessageBus,
  workload: Workload,
  topic: string,
  prepare: boolean,
): Promise<Throughput> => {
  const group = benchGroup(topic);
  if (prepare) {
    const subscription = await bus.subscribe({ group, topics: [topic], handler: () => Promise.resolve() });
    await subscription.close();
  }
  const work = batches(workload, topic);
  const publishStart = performance.now();
  for (const batch of work) await bus.publish(topic, batch);
  const publishMs = performance.now() - publishStart;

  const consumed = countdown(workload.messages);
  const subscription = await bus.subscribe({
    group,
    topics: [topic],
    concurrency: workload.concurrency,
    handler: () => {
      consumed.tick();
      return Promise.resolve();
    },
  });
  await consumed.done;
  await subscription.close();
  return {
    publishPerSec: perSecond(workload.messages, publishMs),
    consumePerSec: perSecond(workload.messages - 1, consumed.lastAt() - consumed.firstAt()),
  };
};
