import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConcordError } from '@concord/core';
import { createRabbitMqBus, groupQueue } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { gate, message, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const url = inject('AMQP_URL');

/** Closes the broker side of the connection named `name` (`rabbitmqctl close_connection`). */
const dropConnection = async (name: string): Promise<void> => {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    '--no-table-headers',
    '--silent',
    'pid',
    'client_properties',
  ]);
  const line = stdout.split('\n').find((row) => row.includes(`"${name}"`));
  const pid = line?.split('\t')[0];
  if (pid === undefined) throw new Error(`no RabbitMQ connection named ${name}`);
  await run('rabbitmqctl', ['close_connection', pid, 'test drops the connection']);
};

describe('RabbitMQ attempts across redeliveries', () => {
  const suffix = uniqueSuffix();
  const exchange = `concord.test.${suffix}`;
  const buses: MessageBus[] = [];
  const queues: string[] = [];

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    const connection = await connect(url);
    const channel = await connection.createChannel();
    for (const queue of queues.splice(0)) await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  it('goes on counting the attempts of a message redelivered after its connection died', async () => {
    const topic = `attempts.${suffix}`;
    const group = `g-${suffix}`;
    queues.push(groupQueue(group, topic), groupQueue(group, `${topic}.dlq`));
    const connectionName = `concord-attempts-${suffix}`;
    const bus = await createRabbitMqBus({ url, exchange, connectionName });
    buses.push(bus);
    const attempts: number[] = [];
    const dropped = gate();
    let done = false;
    await bus.subscribe({
      group,
      topics: [topic],
      retry: { maxAttempts: 10, initialDelayMs: 10, maxDelayMs: 20 },
      handler: async (m) => {
        attempts.push(m.attempt);
        // The third attempt is still running when the connection dies; it fails afterwards.
        if (attempts.length === 3) await dropped.opened;
        if (attempts.length <= 3) throw new ConcordError('X_FLAKY', 'flaky', { retryable: true });
        done = true;
      },
    });
    await bus.publish(topic, [message('a-1', 'k')]);
    await waitFor('the third attempt', () => attempts.length === 3, 10_000);
    await dropConnection(connectionName);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    dropped.open();
    await waitFor('the redelivery to be handled', () => done, 20_000);
    // The redelivery is the fourth attempt (the broker alone counts one earlier delivery: 2).
    expect(attempts).toEqual([1, 2, 3, 4]);
  });
});
