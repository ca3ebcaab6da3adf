import { connect } from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { groupQueues } from '../rabbitmq/shards.js';
import type { ConsumerLagProbe, GroupLag, GroupTopic } from './types.js';

export interface RabbitMqLagOptions {
  readonly url: string;
  /** The deployment's topic prefix (`CONCORD_TOPIC_PREFIX`), as `namespacedBus` adds it. */
  readonly prefix?: string;
  /** The buses' `shards` (default 4): a group's messages of a topic are in its lane and its shards. */
  readonly shards?: number;
  readonly consumers: readonly GroupTopic[];
}

/**
 * RabbitMQ: the ready messages of each group's queues — its lane and its shards — (`queue.declare`
 * passive, which also answers the count), on a connection of the probe's own. A queue that does not exist closes the channel (404); it
 * counts 0 and the next queue gets a fresh channel. A lost connection is opened again on the next call.
 */
export const rabbitMqLagProbe = (options: RabbitMqLagOptions): ConsumerLagProbe => {
  const prefix = options.prefix ?? '';
  let connection: ChannelModel | undefined;
  let channel: Channel | undefined;
  let closed = false;
  const open = async (): Promise<Channel> => {
    if (connection === undefined) {
      const opened = await connect(options.url, {
        clientProperties: { connection_name: 'concord-lag-probe' },
      });
      opened.on('error', () => undefined);
      opened.on('close', () => {
        if (connection === opened) connection = channel = undefined;
      });
      connection = opened;
    }
    if (channel === undefined) {
      const created = await connection.createChannel();
      created.on('error', () => undefined);
      created.on('close', () => {
        if (channel === created) channel = undefined;
      });
      channel = created;
    }
    return channel;
  };
  const ready = async (queue: string): Promise<number> => {
    const current = await open();
    try {
      return (await current.checkQueue(queue)).messageCount;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  };
  const depth = async (consumer: GroupTopic): Promise<number> => {
    let messages = 0;
    const queues = groupQueues(`${prefix}${consumer.group}`, `${prefix}${consumer.topic}`, options.shards);
    for (const queue of queues) messages += await ready(queue);
    return messages;
  };
  return {
    async lag(): Promise<GroupLag[]> {
      if (closed) return [];
      const lags: GroupLag[] = [];
      // One at a time: a missing queue closes the channel the others would share.
      for (const consumer of options.consumers) lags.push({ ...consumer, messages: await depth(consumer) });
      return lags;
    },
    async close(): Promise<void> {
      closed = true;
      const current = connection;
      connection = channel = undefined;
      await current?.close().catch(() => undefined);
    },
  };
};

const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 404;
