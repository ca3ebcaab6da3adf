import { gate, message, publishAll, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createKafkaBus } from '../src/kafka/index.js';
import type { MessageBus } from '../src/port.js';
import { deleteTopics } from './kafka-support.js';

const brokers = inject('KAFKA_BROKERS');

describe('Kafka rebalance', () => {
  const buses: MessageBus[] = [];
  const topics: string[] = [];
  const bus = (): MessageBus => {
    const created = createKafkaBus({ brokers, clientId: 'concord-rebalance-test', partitions: 4 });
    buses.push(created);
    return created;
  };

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    await deleteTopics(brokers, topics.splice(0));
  });

  it(
    'waits for the handlers still running on the partitions it moves: nobody handles the records behind them meanwhile',
    { timeout: 120_000 },
    async () => {
      const topic = `kafka-rebalance.${uniqueSuffix()}`;
      topics.push(topic);
      const group = `rebalance-${uniqueSuffix()}`;
      // 40 keys cover the 4 partitions (the partitioner hashes keys, so always the same ones).
      const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
      const publisher = bus();
      await publishAll(
        publisher,
        topic,
        keys.map((key) => message(`${key}-1`, key)),
        40,
      );

      const stuck = gate();
      const running = new Set<string>();
      const log: string[] = [];
      const first = bus();
      await first.subscribe({
        group,
        topics: [topic],
        concurrency: 64,
        handler: async (m) => {
          running.add(m.id);
          log.push(`a starts ${m.id}`);
          if (m.id.endsWith('-1')) await stuck.opened;
          running.delete(m.id);
          log.push(`a ends ${m.id}`);
        },
      });
      await waitFor('the first member to run every key', () => running.size === keys.length, 30_000);
      await publishAll(
        publisher,
        topic,
        keys.map((key) => message(`${key}-2`, key)),
        40,
      );

      // A second member joins while the first one's handlers are still running: a rebalance.
      const secondReceived: string[] = [];
      const second = bus();
      const joined = second.subscribe({
        group,
        topics: [topic],
        handler: (m) => {
          secondReceived.push(m.id);
          log.push(`b starts ${m.id}`);
          log.push(`b ends ${m.id}`);
          return Promise.resolve();
        },
      });
      // Time for the rebalance, and for the second member to fetch whatever it could be given.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      expect(secondReceived).toEqual([]);

      stuck.open();
      await joined;
      const handled = (id: string) => log.includes(`a ends ${id}`) || log.includes(`b ends ${id}`);
      await waitFor('every second message handled', () => keys.every((key) => handled(`${key}-2`)), 30_000);
      // Whoever handled a key's second message started it after the first one's handler ended.
      for (const key of keys) {
        const ended = log.indexOf(`a ends ${key}-1`);
        const later = log.findIndex((entry) => / starts /.test(entry) && entry.endsWith(` ${key}-2`));
        expect(ended).toBeGreaterThanOrEqual(0);
        expect(later).toBeGreaterThan(ended);
      }
    },
  );
});
