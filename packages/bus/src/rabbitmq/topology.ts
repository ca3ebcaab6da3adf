import type { Logger } from '@concord/core';
import type { Channel, ChannelModel } from 'amqplib';
import { dlqTopic } from '../port.js';
import type { TopicDeclaration } from '../port.js';

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
 * Declares the group's queue for `topic`, bound with routing key = topic, and the group's dead-letter
 * queue `<group>.<topic>.dlq`, bound to `<topic>.dlq`. It is the queue the group would consume with
 * `subscribe({ topics: ['<topic>.dlq'] })`, so dead letters wait there until someone looks; a consumer
 * of `<topic>.dlq` gets `<topic>.dlq.dlq` the same way, so its own dead letters (published `mandatory`)
 * have a queue too. Returns the queue to consume.
 */
export const assertGroupTopology = async (
  channel: Channel,
  options: TopologyOptions & { group: string; topic: string },
): Promise<string> => {
  const queue = groupQueue(options.group, options.topic);
  await assertBoundQueue(channel, { ...options, queue });
  const topic = dlqTopic(options.topic);
  await assertBoundQueue(channel, { ...options, topic, queue: groupQueue(options.group, topic) });
  return queue;
};

/**
 * Declares the exchange and every listed group's queues (as {@link assertGroupTopology}) on a channel
 * of its own, closed afterwards: a failed declaration closes its channel, and must not take the
 * publisher's or a consumer's with it.
 */
export const declareTopology = async (
  connection: ChannelModel,
  options: TopologyOptions & { readonly topology: readonly TopicDeclaration[]; readonly logger: Logger },
): Promise<void> => {
  const channel = await connection.createChannel();
  channel.on('error', (error: unknown) =>
    options.logger.warn({ err: error }, 'could not declare the topology'),
  );
  try {
    await assertExchange(channel, options.exchange);
    for (const { topic, groups } of options.topology) {
      for (const group of groups) await assertGroupTopology(channel, { ...options, group, topic });
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
};
