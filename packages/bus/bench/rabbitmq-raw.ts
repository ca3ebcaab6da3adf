import { dlqTopic } from '@concord/bus';
import { groupQueue } from '../src/rabbitmq/shards.js';
import { connect } from 'amqplib';
import { benchGroup } from './adapter.js';
import { batches, countdown, perSecond } from './workload.js';
import type { Throughput, Workload } from './workload.js';

/**
 * The same work with the plain amqplib client: a confirm channel publishing each batch and waiting for
 * its confirms, the same properties and headers, one quorum queue; then a consumer with the same
 * prefetch acking every message, timed from the first delivery to the last.
 */
export const rawRabbitMq = async (
  url: string,
  exchange: string,
  workload: Workload,
  topic: string,
): Promise<Throughput> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const queue = `raw.${topic}`;
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(queue, exchange, topic);
    const work = batches(workload, topic);
    const publishStart = performance.now();
    for (const batch of work) {
      for (const message of batch) {
        channel.publish(exchange, topic, Buffer.from(message.payload), {
          persistent: true,
          messageId: message.id,
          contentType: 'application/octet-stream',
          headers: { ...message.headers, 'message-id': message.id, 'x-concord-key': message.key },
        });
      }
      await channel.waitForConfirms();
    }
    const publishMs = performance.now() - publishStart;

    const consumer = await connection.createChannel();
    await consumer.prefetch(Math.max(100, workload.concurrency * 4));
    const consumed = countdown(workload.messages);
    await consumer.consume(queue, (delivery) => {
      if (delivery === null) return;
      consumer.ack(delivery);
      consumed.tick();
    });
    await consumed.done;
    const consumeMs = consumed.lastAt() - consumed.firstAt();
    await consumer.close();
    await channel.deleteQueue(queue);
    return {
      publishPerSec: perSecond(workload.messages, publishMs),
      consumePerSec: perSecond(workload.messages - 1, consumeMs),
    };
  } finally {
    await connection.close();
  }
};

/**
 * Deletes the queues the adapter rounds declared, those of raw rounds that did not finish (a finished
 * one deletes its own), and the benchmark's exchange.
 */
export const deleteRabbitMqBenchTopology = async (
  url: string,
  exchange: string,
  rounds: { readonly adapterTopics: readonly string[]; readonly rawTopics: readonly string[] },
): Promise<void> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    for (const topic of rounds.adapterTopics) {
      await channel.deleteQueue(groupQueue(benchGroup(topic), topic));
      await channel.deleteQueue(groupQueue(benchGroup(topic), dlqTopic(topic)));
    }
    for (const topic of rounds.rawTopics) await channel.deleteQueue(`raw.${topic}`);
    await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
};
