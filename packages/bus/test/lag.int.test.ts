/**
 * Consumer lag probes (ingest's admission control): messages published to a topic that a consumer group
 * has not consumed yet, read from RabbitMQ (queue depth) and Kafka (log end minus committed offset).
 */
import { createKafkaBus, createRabbitMqBus, groupQueues } from '@concord/bus';
import { kafkaLagProbe, rabbitMqLagProbe } from '../src/lag/index.js';
import type { ConsumerLagProbe, MessageBus } from '@concord/bus';
import { message, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { deleteTopics } from './kafka-support.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of closing.splice(0).reverse()) await x.close();
});
const track = <T extends { close(): Promise<void> }>(x: T): T => {
  closing.push(x);
  return x;
};

/** Subscribes `group` (so its queue or offsets exist), takes `consumed` messages, then stops consuming. */
const consumeSome = async (bus: MessageBus, group: string, topic: string, consumed: number) => {
  let taken = 0;
  const subscription = await bus.subscribe({
    group,
    topics: [topic],
    concurrency: 1,
    handler: async () => {
      taken += 1;
      if (taken > consumed) await new Promise(() => undefined);
    },
  });
  return { taken: () => taken, subscription };
};

const lagOf = async (probe: ConsumerLagProbe): Promise<number[]> =>
  (await probe.lag()).map((l) => l.messages);

describe('consumer lag probes', () => {
  it('RabbitMQ: the ready messages of the group queue, 0 for a queue that does not exist', async () => {
    const url = inject('AMQP_URL');
    const suffix = uniqueSuffix();
    const exchange = `concord.test.${suffix}`;
    const [group, topic] = [`g-${suffix}`, `lag.${suffix}`];
    const bus = await createRabbitMqBus({ url, exchange, drainTimeoutMs: 100 });
    closing.push({
      close: async () => {
        await bus.close();
        const connection = await connect(url);
        const channel = await connection.createChannel();
        for (const queue of [...groupQueues(group, topic), ...groupQueues(group, `${topic}.dlq`)])
          await channel.deleteQueue(queue);
        await channel.deleteExchange(exchange);
        await connection.close();
      },
    });
    const probe = track(
      rabbitMqLagProbe({
        url,
        consumers: [
          { group: `missing-${suffix}`, topic },
          { group, topic },
        ],
      }),
    );
    expect(await lagOf(probe)).toEqual([0, 0]);
    const { subscription } = await consumeSome(bus, group, topic, 0);
    await subscription.close();
    await bus.publish(
      topic,
      Array.from({ length: 7 }, (_, i) => message(`m${i}`, `k${i}`)),
    );
    await waitFor('7 waiting', async () => (await lagOf(probe))[1] === 7);
    expect(await lagOf(probe)).toEqual([0, 7]);
  });

  it('Kafka: log end minus the committed offset, summed over partitions', async () => {
    const brokers = inject('KAFKA_BROKERS');
    const suffix = uniqueSuffix();
    const [group, topic] = [`g-${suffix}`, `lag.${suffix}`];
    const bus = createKafkaBus({
      brokers,
      partitions: 3,
      drainTimeoutMs: 100,
      commitIntervalMs: 10,
      fromBeginning: true,
    });
    closing.push({
      close: async () => {
        await bus.close();
        await deleteTopics(brokers, [topic]);
      },
    });
    const probe = track(kafkaLagProbe({ brokers, consumers: [{ group, topic }] }));
    expect(await lagOf(probe)).toEqual([0]);
    await bus.publish(
      topic,
      Array.from({ length: 9 }, (_, i) => message(`m${i}`, `k${i}`)),
    );
    // A group that has committed nothing yet is behind by everything in the topic.
    await waitFor('9 behind', async () => (await lagOf(probe))[0] === 9, 30_000);
    const consumer = await consumeSome(bus, group, topic, 9);
    await waitFor('consumed', () => consumer.taken() === 9, 60_000);
    await waitFor('committed', async () => (await lagOf(probe))[0] === 0, 30_000);
    await consumer.subscription.close();
  });
});
