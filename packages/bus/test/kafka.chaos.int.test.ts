import { describeBusRestartContract, message, publishAll, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaBus } from '../src/kafka/index.js';
import { deleteTopics, kafkaContract, restartKafka } from './kafka-support.js';

// Kills the shared Kafka broker (SIGKILL through infra/kafka.sh) and starts it again: chaos tier, serial.
const brokers = inject('KAFKA_BROKERS');

describeBusRestartContract({ ...kafkaContract(brokers), restartBroker: restartKafka });

describe('Kafka adapter when the broker is killed mid-consumption', () => {
  const topic = `kafka-chaos.${uniqueSuffix()}.consume`;
  afterAll(() => deleteTopics(brokers, [topic]));

  it('delivers every confirmed message after the broker comes back', { timeout: 300_000 }, async () => {
    const publisher = createKafkaBus({ brokers, clientId: 'concord-chaos' });
    const consumer = createKafkaBus({ brokers, clientId: 'concord-chaos' });
    try {
      const ids = Array.from({ length: 3_000 }, (_, i) => `m-${i}`);
      await publishAll(
        publisher,
        topic,
        ids.map((id, i) => message(id, `key-${i % 20}`)),
        250,
      );
      const received = new Set<string>();
      await consumer.subscribe({
        group: `chaos-${uniqueSuffix()}`,
        topics: [topic],
        concurrency: 8,
        handler: async (m) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          received.add(m.id);
        },
      });
      await waitFor('some messages handled', () => received.size >= 300, 60_000);
      await restartKafka();
      await waitFor('every confirmed message', () => ids.every((id) => received.has(id)), 180_000);
      await publisher.publish(topic, [message('after', 'key-0')]);
      await waitFor('a message published after the restart', () => received.has('after'), 60_000);
      expect(publisher.isReady()).toBe(true);
    } finally {
      await Promise.all([publisher.close(), consumer.close()]);
    }
  });
});
