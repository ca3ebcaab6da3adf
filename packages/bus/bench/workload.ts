import { randomBytes } from 'node:crypto';
import type { OutgoingMessage } from '@concord/bus';

/** What one benchmark round sends: `messages` messages of `size` bytes in batches of `batch`. */
export interface Workload {
  readonly messages: number;
  readonly size: number;
  readonly batch: number;
  /** Distinct keys the messages cycle through. */
  readonly keys: number;
  /** Handler concurrency (adapter) / prefetch basis (raw). */
  readonly concurrency: number;
}

/** Throughput of one side, in messages per second. */
export interface Throughput {
  readonly publishPerSec: number;
  readonly consumePerSec: number;
}

/** Runs the workload on a unique topic and reports throughput. */
export type Runner = (workload: Workload, topic: string) => Promise<Throughput>;

export const batches = (workload: Workload, round: string): OutgoingMessage[][] => {
  const payload = randomBytes(workload.size);
  const all: OutgoingMessage[] = Array.from({ length: workload.messages }, (_, n) => ({
    id: `${round}-${n}`,
    key: `key-${n % workload.keys}`,
    payload,
    headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  }));
  const result: OutgoingMessage[][] = [];
  for (let start = 0; start < all.length; start += workload.batch)
    result.push(all.slice(start, start + workload.batch));
  return result;
};

export const perSecond = (count: number, ms: number): number => Math.round((count * 1000) / ms);

/** A counter that resolves once `target` increments happened. */
export const countdown = (target: number) => {
  let count = 0;
  let first = 0;
  let last = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    done,
    /** When the first / last tick happened (performance.now()). */
    firstAt: (): number => first,
    lastAt: (): number => last,
    tick: (): void => {
      count += 1;
      if (count === 1) first = performance.now();
      if (count === target) {
        last = performance.now();
        finish();
      }
    },
  };
};
