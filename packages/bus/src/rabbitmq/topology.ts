import type { Channel } from 'amqplib';
import { dlqTopic } from '../port.js';

/** `<group>.<topic>`: the durable quorum queue a consumer group owns for a topic (DESIGN §4). */
export const groupQueue = (group: string, topic: string): string => `${group}.${topic}`;

export interface TopologyOptions {
  readonly exchange: string;
  readonly singleActiveConsumer: boolean;
}

export const assertExchange = async (channel: Channel, exchange: string): Promise<void> => {
  await channel.assertExchange(exchange, 'topic', { durable: true });
};

const assertBoundQueue = async (
  channel: Channel,
  options: TopologyOptions & { queue: string; topic: string },
): Promise<void> => {
  await channel.assertQueue(options.queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      // Messages the broker itself gives up on (rejected without requeue) also end up on `<topic>.dlq`.
      'x-dead-letter-exchange': options.exchange,
      'x-dead-letter-routing-key': dlqTopic(options.topic),
      ...(options.singleActiveConsumer ? { 'x-single-active-consumer': true } : {}),
    },
  });
  await channel.bindQueue(options.queue, options.exchange, options.topic);
};

/**
 * Declares the group's queue for `topic`, bound with routing key = topic, and — unless the topic is
 * itself a dead-letter topic — the group's dead-letter queue `<group>.<topic>.dlq`, bound to
 * `<topic>.dlq`. It is the queue the group would consume with `subscribe({ topics: ['<topic>.dlq'] })`,
 * so dead letters wait there until someone looks. Returns the queue to consume.
 */
export const assertGroupTopology = async (
  channel: Channel,
  options: TopologyOptions & { group: string; topic: string },
): Promise<string> => {
  const queue = groupQueue(options.group, options.topic);
  await assertBoundQueue(channel, { ...options, queue });
  if (!options.topic.endsWith('.dlq')) {
    const topic = dlqTopic(options.topic);
    await assertBoundQueue(channel, { ...options, topic, queue: groupQueue(options.group, topic) });
  }
  return queue;
};
