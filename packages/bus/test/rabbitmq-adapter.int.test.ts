import { createRabbitMqBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { collector, gate, message, publishAll, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { connect } from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { execFile } from 'node:child_process';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { coalesceWrites } from '../src/rabbitmq/connection.js';
import { groupQueue, shardOf, shardQueue } from '../src/rabbitmq/shards.js';
import { queuesOf } from './support/rabbitmq.js';

const url = inject('AMQP_URL');
const run = promisify(execFile);

/** Has the broker close the connections named `name` (and only those: the broker is shared). */
const closeConnections = async (name: string): Promise<number> => {
  const { stdout } = await run('rabbitmqctl', [
    '--quiet',
    'list_connections',
    '--no-table-headers',
    'pid',
    'client_properties',
  ]);
  const ours = stdout
    .split('\n')
    .filter((line) => line.includes(`"${name}"`))
    .map((line) => line.split('\t')[0] ?? '');
  for (const pid of ours) await run('rabbitmqctl', ['close_connection', pid, 'test']);
  return ours.length;
};

describe('RabbitMQ adapter specifics', () => {
  let suffix = uniqueSuffix();
  let buses: MessageBus[] = [];
  const queues: string[] = [];
  const exchange = () => `concord.test.${suffix}`;
  const bus = async (
    options: { singleActiveConsumer?: boolean; drainTimeoutMs?: number; shards?: number } = {},
  ) => {
    const created = await createRabbitMqBus({ url, exchange: exchange(), ...options });
    buses.push(created);
    return created;
  };
  const names = (label: string) => {
    const topic = `adapter.${suffix}.${label}`;
    const group = `g-${suffix}`;
    queues.push(...queuesOf(group, topic), groupQueue(group, `${topic}.dlq`));
    return { topic, group };
  };

  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
    buses = [];
    const connection = await connect(url);
    const channel = await connection.createChannel();
    for (const queue of queues.splice(0)) await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange());
    await connection.close();
    suffix = uniqueSuffix();
  });

  it('turns Nagle off on its socket (a publish after an ack would wait for the delayed ACK)', async () => {
    const setNoDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    try {
      await bus();
      expect(setNoDelay.mock.calls.length).toBeGreaterThan(0);
      expect(setNoDelay.mock.calls.every(([on]) => on === true)).toBe(true);
    } finally {
      setNoDelay.mockRestore();
    }
  });

  it('declares a durable topic exchange, a lane <group>.<topic> and a quorum queue per shard', async () => {
    const { topic, group } = names('topology');
    const b = await bus();
    await b.subscribe({ group, topics: [topic], handler: collector().handler });
    const connection = await connect(url);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined); // the 404 below closes it
      await channel.checkExchange(exchange());
      const queue = await channel.checkQueue(groupQueue(group, topic));
      expect(queue.queue).toBe(`${group}.${topic}`);
      await channel.checkQueue(groupQueue(group, `${topic}.dlq`));
      // Re-declaring with quorum arguments succeeds only if it is a quorum queue already.
      const quorum = (singleActiveConsumer: boolean) => ({
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-dead-letter-exchange': exchange(),
          'x-dead-letter-routing-key': `${topic}.dlq`,
          ...(singleActiveConsumer ? { 'x-single-active-consumer': true } : {}),
        },
      });
      await channel.assertQueue(groupQueue(group, topic), quorum(false));
      for (let shard = 0; shard < 4; shard += 1) {
        // Each shard has a single active consumer (this member, which holds them all).
        const declared = await channel.assertQueue(shardQueue(group, topic, shard), quorum(true));
        expect(declared.consumerCount).toBe(1);
      }
      await expect(channel.checkQueue(shardQueue(group, topic, 4))).rejects.toMatchObject({ code: 404 });
    } finally {
      await connection.close().catch(() => undefined);
    }
    expect(b.isReady()).toBe(true);
  });

  it.each([
    ['its lane', 1],
    ['a shard queue', 4],
  ])('re-subscribes after the broker cancels the consumer of %s (queue deleted)', async (_, shards) => {
    const { topic, group } = names(`cancel-${shards}`);
    const b = await bus({ shards });
    const sink = collector();
    await b.subscribe({ group, topics: [topic], handler: sink.handler });
    await b.publish(topic, [message('before', 'k')]);
    await waitFor('the first message', () => sink.received.length === 1, 10_000);
    const queue = shards === 1 ? groupQueue(group, topic) : shardQueue(group, topic, shardOf('k', shards));
    const connection = await connect(url);
    await (await connection.createChannel()).deleteQueue(queue);
    await connection.close();
    // Until the queue is declared again, published messages have nowhere to go: they are refused
    // (retryably), not confirmed. Keep publishing.
    for (let n = 0; !sink.ids().some((id) => id.startsWith('after')); n += 1) {
      expect(n).toBeLessThan(100);
      await b.publish(topic, [message(`after-${n}`, 'k')]).catch((error: unknown) => {
        expect(error).toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE', retryable: true });
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('counts a redelivery by the broker in attempt (x-delivery-count)', async () => {
    const { topic, group } = names('redeliver');
    const first = await bus({ drainTimeoutMs: 200 });
    const stuck = gate();
    let started = false;
    const subscription = await first.subscribe({
      group,
      topics: [topic],
      handler: async () => {
        started = true;
        await stuck.opened;
      },
    });
    await first.publish(topic, [message('r-1', 'k')]);
    await waitFor('the first delivery', () => started, 10_000);
    await subscription.close(); // gives up after 200 ms; closing the channel returns the message
    const again: IncomingMessage[] = [];
    await first.subscribe({ group, topics: [topic], handler: (m) => Promise.resolve(void again.push(m)) });
    await waitFor('the redelivery', () => again.length === 1, 10_000);
    expect(again[0]).toMatchObject({ id: 'r-1', attempt: 2 });
    stuck.open();
  });

  it('keeps per-key order across members with singleActiveConsumer', async () => {
    const { topic, group } = names('sac');
    const a = collector();
    const b = collector();
    await (
      await bus({ singleActiveConsumer: true, shards: 1 })
    ).subscribe({ group, topics: [topic], handler: a.handler });
    await (
      await bus({ singleActiveConsumer: true, shards: 1 })
    ).subscribe({ group, topics: [topic], handler: b.handler });
    const ids = Array.from({ length: 40 }, (_, n) => `s-${String(n).padStart(2, '0')}`);
    await publishAll(
      buses[0] as MessageBus,
      topic,
      ids.map((id) => message(id, 'one-key')),
      10,
    );
    await waitFor('all messages', () => a.received.length + b.received.length >= ids.length, 10_000);
    expect([a.received.length, b.received.length].sort()).toEqual([0, ids.length]);
    expect([...a.ids(), ...b.ids()]).toEqual(ids);
  });

  it('declares again on a new connection, before publishing resumes', async () => {
    const { topic, group } = names('redeclare');
    const connectionName = `redeclare-${suffix}`;
    const b = await createRabbitMqBus({
      url,
      exchange: exchange(),
      connectionName,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    buses.push(b);
    await b.declare([{ topic, groups: [group] }]);
    // The queue goes away (an operator, a broker that lost its state): messages are refused.
    const connection = await connect(url);
    await (await connection.createChannel()).deleteQueue(shardQueue(group, topic, shardOf('k', 4)));
    await connection.close();
    await expect(b.publish(topic, [message('refused', 'k')])).rejects.toMatchObject({
      code: 'CONCORD_BUS_UNROUTABLE',
      retryable: true,
    });
    // The connection drops; the bus reconnects and declares what it was given before publishing.
    expect(await closeConnections(connectionName)).toBe(1);
    await b.publish(topic, [message('after', 'k')]);
    const sink = collector();
    await b.subscribe({ group, topics: [topic], handler: sink.handler });
    await waitFor('the message published after the reconnect', () => sink.received.length >= 1, 10_000);
    expect(sink.ids()).toEqual(['after']);
  });

  it('fails to start with a retryable error when the broker is unreachable', async () => {
    const start = createRabbitMqBus({ url: 'amqp://guest:guest@127.0.0.1:1', connectTimeoutMs: 300 });
    await expect(start).rejects.toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE', retryable: true });
  });

  /** Publishes 200 confirmed messages on a fresh connection; returns how many socket writes they took. */
  const socketWritesFor200 = async (coalesce: boolean) => {
    const connection: ChannelModel = await connect(url);
    try {
      if (coalesce) expect(coalesceWrites(connection)).toBe(true);
      const socket = (connection as unknown as { connection: { stream: Record<string, unknown> } }).connection
        .stream;
      let writes = 0;
      for (const method of ['_write', '_writev']) {
        const original = socket[method] as (...args: unknown[]) => unknown;
        socket[method] = function (this: unknown, ...args: unknown[]) {
          writes += 1;
          return original.apply(this, args);
        };
      }
      const channel = await connection.createConfirmChannel();
      await channel.assertExchange(exchange(), 'topic', { durable: true });
      for (let i = 0; i < 200; i += 1) channel.publish(exchange(), 'coalesce', Buffer.from(`message ${i}`));
      await channel.waitForConfirms();
      return writes;
    } finally {
      await connection.close();
    }
  };

  it('sends the frames written in one tick with one socket write', async () => {
    // Without coalescing amqplib writes each publish on its own; the comparison keeps the test honest.
    expect(await socketWritesFor200(false)).toBeGreaterThanOrEqual(200);
    expect(await socketWritesFor200(true)).toBeLessThanOrEqual(10);
  });
});
