import { batches, countdown, perSecond } from './workload.js';
import type { Throughput, Workload } from './workload.js';

/**
 * The in-process baseline for the memory adapter: an array as the queue, a loop as the consumer —
 * the least any in-memory queue can do for the same messages.
 */
export const rawMemory = async (workload: Workload, topic: string): Promise<Throughput> => {
  const queue: unknown[] = [];
  const work = batches(workload, topic);
  const publishStart = performance.now();
  for (const batch of work) {
    for (const message of batch) queue.push({ ...message, payload: message.payload.slice() });
    await Promise.resolve();
  }
  const publishMs = performance.now() - publishStart;
  const consumed = countdown(workload.messages);
  while (queue.length > 0) {
    queue.shift();
    await Promise.resolve();
    consumed.tick();
  }
  await consumed.done;
  const consumeMs = consumed.lastAt() - consumed.firstAt();
  return {
    publishPerSec: perSecond(workload.messages, publishMs),
    consumePerSec: perSecond(workload.messages - 1, consumeMs),
  };
};
