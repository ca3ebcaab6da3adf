import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConcordError } from '@concord/core';
import { createRabbitMqBus, dlqTopic } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { gate, message, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { groupQueue } from '../src/rabbitmq/shards.js';

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

describe('RabbitMQ consumer failures', () => {
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

  it('holds a key while its dead letter is refused: a later message of the key never goes first', async () => {
    const topic = `order.${suffix}`;
    const group = `g-${suffix}`;
    const deadLetters = groupQueue(group, dlqTopic(topic));
    queues.push(groupQueue(group, topic), deadLetters);
    const bus = await createRabbitMqBus({ url, exchange });
    buses.push(bus);
    const handled: string[] = [];
    await bus.subscribe({
      group,
      topics: [topic],
      retry: { initialDelayMs: 10, maxDelayMs: 50 },
      handler: (m) => {
        if (m.id === 'o-1') return Promise.reject(new ConcordError('X_POISON', 'never works'));
        handled.push(m.id);
        return Promise.resolve();
      },
    });
    // Without the group's dead-letter queue the broker returns the dead letter (mandatory): refused.
    const admin = await connect(url);
    try {
      const channel = await admin.createChannel();
      await channel.deleteQueue(deadLetters);
      await bus.publish(topic, [message('o-1', 'k'), message('o-2', 'k')]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(handled).toEqual([]);

      await channel.assertQueue(deadLetters, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await channel.bindQueue(deadLetters, exchange, dlqTopic(topic));
      await waitFor('the later message', () => handled.length === 1, 20_000);
      expect(handled).toEqual(['o-2']);
      const letter = await channel.get(deadLetters);
      expect(letter === false ? undefined : letter.properties.messageId).toBe('o-1');
    } finally {
      await admin.close();
    }
  });
});
