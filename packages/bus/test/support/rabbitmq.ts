import { execFile } from 'node:child_process';
import { connect as connectSocket } from 'node:net';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { createRabbitMqBus, dlqTopic, groupQueue } from '@concord/bus';
import { RABBITMQ_FEATURES } from '../../src/rabbitmq/bus.js';
import type { BusContractOptions } from '@concord/bus/testing';

const run = promisify(execFile);

/** Contract options for RabbitMQ at `url`: one exchange per test, queues and exchange deleted afterwards. */
export const rabbitContract = (url: string): BusContractOptions => ({
  name: 'rabbitmq',
  features: RABBITMQ_FEATURES,
  create: ({ namespace, maxMessageBytes, drainTimeoutMs }) =>
    createRabbitMqBus({ url, exchange: `concord.test.${namespace}`, maxMessageBytes, drainTimeoutMs }),
  cleanup: async ({ namespace, topics, groups }) => {
    const connection = await connect(url);
    try {
      const channel = await connection.createChannel();
      for (const group of groups) {
        for (const topic of topics.flatMap((t) => [t, dlqTopic(t), dlqTopic(dlqTopic(t))])) {
          await channel.deleteQueue(groupQueue(group, topic));
        }
      }
      await channel.deleteExchange(`concord.test.${namespace}`);
    } finally {
      await connection.close();
    }
  },
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
