import type { Logger } from '@concord/core';
import type { Channel, ChannelModel } from 'amqplib';
import { dlqTopic } from '../port.js';
import type { TopicDeclaration } from '../port.js';
import { groupQueue, shardQueue, topicShards } from './shards.js';

export interface TopologyOptions {
  readonly exchange: string;
  /** Lanes (`<group>.<topic>`, dead-letter queues) with a single active consumer. Shards always have one. */
  readonly singleActiveConsumer: boolean;
  /** Shards per group queue (DESIGN §4); dead-letter topics have none. */
  readonly shards: number;
}

export const assertExchange = async (channel: Channel, exchange: string): Promise<void> => {
  await channel.assertExchange(exchange, 'topic', { durable: true });
};

interface BoundQueue {
  readonly exchange: string;
  readonly queue: string;
  readonly topic: string;
  readonly routingKey: string;
  readonly singleActiveConsumer: boolean;
}

const assertQueue = async (channel: Channel, options: BoundQueue): Promise<void> => {
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
};

/**
 * Declares the queues, then binds them: creating a quorum queue takes a while, binding does not, so a
 * topic's shards start taking messages nearly together (a publish meanwhile that reaches only some of
 * them fails, retryably, and its caller publishes those keys again: duplicates the inbox drops).
 */
const assertBoundQueues = async (channel: Channel, queues: readonly BoundQueue[]): Promise<void> => {
  for (const queue of queues) await assertQueue(channel, queue);
  for (const queue of queues) await channel.bindQueue(queue.queue, queue.exchange, queue.routingKey);
};

/**
 * Declares shard `shard` of the group's queue for `topic`, `<group>.<topic>.<n>` bound to `<topic>.<n>`.
 * It always has a single active consumer, whatever the lanes have: that is what keeps a hand-over between
 * members in order (a consumer that is not active yet only gets messages once the previous one's channel
 * closed and its unacknowledged messages went back ahead of the rest).
 */
export const assertShardQueue = (
  channel: Channel,
  options: {
    readonly exchange: string;
    readonly group: string;
    readonly topic: string;
    readonly shard: number;
  },
): Promise<void> => assertBoundQueues(channel, [shardQueueOf(options)]);

const shardQueueOf = (options: {
  readonly exchange: string;
  readonly group: string;
  readonly topic: string;
  readonly shard: number;
}): BoundQueue => ({
  exchange: options.exchange,
  topic: options.topic,
  queue: shardQueue(options.group, options.topic, options.shard),
  routingKey: `${options.topic}.${options.shard}`,
  singleActiveConsumer: true,
});

const queuesOf = (
  options: TopologyOptions & { readonly group: string; readonly topic: string },
): BoundQueue[] => {
  const { exchange, group, topic } = options;
  const lane: BoundQueue = {
    exchange,
    topic,
    queue: groupQueue(group, topic),
    routingKey: topic,
    singleActiveConsumer: options.singleActiveConsumer,
  };
  const shards = topicShards(topic, options.shards);
  if (shards === 1) return [lane];
  return [
    lane,
    ...Array.from({ length: shards }, (_, shard) => shardQueueOf({ exchange, group, topic, shard })),
  ];
};

/**
 * Declares the group's queues for `topic` — its lane `<group>.<topic>` bound to routing key `<topic>` and,
 * with more than one shard, `<group>.<topic>.<n>` bound to `<topic>.<n>` for every shard — and its
 * dead-letter queue `<group>.<topic>.dlq`, bound to `<topic>.dlq` (dead-letter topics are not sharded).
 * That is the queue the group would consume with `subscribe({ topics: ['<topic>.dlq'] })`, so dead
 * letters wait there until someone looks; a consumer of `<topic>.dlq` gets `<topic>.dlq.dlq` the same
 * way, so its own dead letters (published `mandatory`) have a queue too. Returns the lane.
 */
export const assertGroupTopology = async (
  channel: Channel,
  options: TopologyOptions & { group: string; topic: string },
): Promise<string> => {
  await assertBoundQueues(channel, [
    ...queuesOf(options),
    ...queuesOf({ ...options, topic: dlqTopic(options.topic) }),
  ]);
  return groupQueue(options.group, options.topic);
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
