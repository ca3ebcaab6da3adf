import type { IncomingMessage, MessageBus } from '@concord/bus';
import type { Database, Outbox, OutboxMessage } from '../src/index.js';

/** The shared test helpers (one definition, in `@concord/bus/testing`). */
import { delay, unique, waitFor } from '@concord/bus/testing';

export { delay, unique, waitFor };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const text = (value: string): Uint8Array => encoder.encode(value);
export const readText = (payload: Uint8Array): string => decoder.decode(payload);

/** Subscribes a group to topics and records every delivery. */
export const collect = async (bus: MessageBus, topics: string[], group = `g-${unique()}`) => {
  const received: IncomingMessage[] = [];
  const subscription = await bus.subscribe({
    group,
    topics,
    handler: (message) => {
      received.push(message);
      return Promise.resolve();
    },
  });
  return { received, subscription };
};

/** Writes `count` messages over `keys` keys, `perTx` per transaction; payload = `${key}:${seq}`. */
export const writeMessages = async (options: {
  db: Database;
  outbox: Outbox;
  topic: string;
  count: number;
  keys: number;
  perTx?: number;
  keyPrefix?: string;
}) => {
  const perTx = options.perTx ?? 100;
  const seq = new Map<string, number>();
  for (let start = 0; start < options.count; start += perTx) {
    const batch: OutboxMessage[] = [];
    for (let i = start; i < Math.min(options.count, start + perTx); i++) {
      const key = `${options.keyPrefix ?? 'k'}${i % options.keys}`;
      const n = (seq.get(key) ?? 0) + 1;
      seq.set(key, n);
      batch.push({ topic: options.topic, key, payload: text(`${key}:${n}`) });
    }
    await options.db.withTransaction((tx) => options.outbox.add(tx, batch));
  }
};

/** Checks that for every key the payload sequence numbers arrive in increasing order (ignoring repeats). */
export const keyOrderViolations = (messages: readonly IncomingMessage[]): string[] => {
  const last = new Map<string, number>();
  const violations: string[] = [];
  for (const message of messages) {
    const [key, n] = readText(message.payload).split(':');
    const value = Number(n);
    const previous = last.get(key ?? '') ?? 0;
    if (value < previous) violations.push(`${key}: ${value} after ${previous}`);
    if (value > previous) last.set(key ?? '', value);
  }
  return violations;
};
