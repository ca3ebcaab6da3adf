import { uniqueSuffix } from '@concord/bus/testing';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaBus } from '../src/kafka/index.js';
import { deleteTopics, testAdmin } from './kafka-support.js';

const brokers = inject('KAFKA_BROKERS');

describe('Kafka declare', () => {
  const topics = ['a', 'b'].map((label) => `kafka-test.${uniqueSuffix()}.${label}`);
  afterAll(() => deleteTopics(brokers, topics));

  it('creates the declared topics, each with its <topic>.dlq, before anything is published', async () => {
    const bus = createKafkaBus({ brokers, clientId: 'concord-kafka-test', partitions: 2 });
    try {
      await bus.declare(topics.map((topic) => ({ topic, groups: ['g'] })));
    } finally {
      await bus.close();
    }
    const admin = await testAdmin(brokers);
    try {
      const existing = new Set(await admin.listTopics());
      for (const topic of topics) {
        expect(existing.has(topic), topic).toBe(true);
        expect(existing.has(`${topic}.dlq`), `${topic}.dlq`).toBe(true);
      }
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      expect(metadata.map((t) => t.partitions.length)).toEqual([2, 2]);
    } finally {
      await admin.disconnect();
    }
  });
});
