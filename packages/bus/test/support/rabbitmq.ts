import { execFile } from 'node:child_process';
import { connect as connectSocket } from 'node:net';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { createRabbitMqBus, dlqTopic, groupQueues } from '@concord/bus';
import { RABBITMQ_FEATURES } from '../../src/rabbitmq/bus.js';
import { claimQueue, DEFAULT_SHARDS, membersQueue, topicShards } from '../../src/rabbitmq/shards.js';
import type { BusContractOptions } from '@concord/bus/testing';

const run = promisify(execFile);

/** Every queue a group's subscription to `topic` may have made: lane, shards, members and claims. */
export const queuesOf = (group: string, topic: string, shards = DEFAULT_SHARDS): string[] => {
  const count = topicShards(topic, shards);
  return [
    ...groupQueues(group, topic, shards),
    ...(count > 1
      ? [membersQueue(group, topic), ...Array.from({ length: count }, (_, n) => claimQueue(group, topic, n))]
      : []),
  ];
};

/** Deletes the queues of `groups` for `topics` (with their `.dlq` and `.dlq.dlq`), and the exchange. */
export const deleteRabbitMqObjects = async (
  url: string,
  used: { exchange: string; topics: readonly string[]; groups: readonly string[]; shards?: number },
): Promise<void> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    for (const group of used.groups) {
      for (const topic of used.topics.flatMap((t) => [t, dlqTopic(t), dlqTopic(dlqTopic(t))])) {
        for (const queue of queuesOf(group, topic, used.shards)) await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(used.exchange);
  } finally {
    await connection.close();
  }
};

/**
 * Contract options for RabbitMQ at `url`: one exchange per test, queues and exchange deleted afterwards.
 * Shards are balanced every 200 ms (a member that joins gets its share sooner than with the default).
 */
export const rabbitContract = (url: string, options: { shards?: number } = {}): BusContractOptions => ({
  name: options.shards === undefined ? 'rabbitmq' : `rabbitmq (${options.shards} shards)`,
  features: RABBITMQ_FEATURES,
  create: ({ namespace, maxMessageBytes, drainTimeoutMs }) =>
    createRabbitMqBus({
      url,
      exchange: `concord.test.${namespace}`,
      maxMessageBytes,
      drainTimeoutMs,
      rebalanceIntervalMs: 200,
      ...options,
    }),
  cleanup: ({ namespace, topics, groups }) =>
    deleteRabbitMqObjects(url, { exchange: `concord.test.${namespace}`, topics, groups, ...options }),
});

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connectSocket({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** `rabbitmqctl stop_app`, a pause, `start_app`; always starts the app again, waits until it serves. */
export const restartRabbitMq = async (downMs = 3_000): Promise<void> => {
  await run('rabbitmqctl', ['stop_app']);
  try {
    await new Promise((resolve) => setTimeout(resolve, downMs));
  } finally {
    await run('rabbitmqctl', ['start_app']);
  }
  await run('rabbitmqctl', ['await_startup']);
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(5672))) {
    if (Date.now() > deadline) throw new Error('RabbitMQ did not come back on 5672');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
