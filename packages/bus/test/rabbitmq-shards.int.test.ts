import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createRabbitMqBus } from '@concord/bus';
import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import { delay, gate, message, readText, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { connect } from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { groupQueue, shardOf } from '../src/rabbitmq/shards.js';
import { deleteRabbitMqObjects } from './support/rabbitmq.js';

const url = inject('AMQP_URL');
const run = promisify(execFile);

/** Has the broker close the connection named `name` (as a network failure or a killed process would). */
const killConnection = async (name: string): Promise<void> => {
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
  await run('rabbitmqctl', ['close_connection', pid, 'test kills the connection']);
};

/** The shards a subscription holds (a RabbitMQ subscription's own view, for the test to look at). */
const held = (subscription: Subscription, topic: string): readonly number[] =>
  (subscription as unknown as { shards: ReadonlyMap<string, readonly number[]> }).shards.get(topic) ?? [];

/**
 * What the members of one group handled: per key, the sequence numbers in the order they were
 * handled, which member handled each, and whether two handlers of one key ever ran at once. Every
 * tenth message of a key takes 150 ms, so a shard given up has handlers running more often than not.
 */
const ledger = (hold: (m: IncomingMessage) => Promise<void> = () => Promise.resolve()) => {
  const handled = new Map<string, number[]>();
  const byMember = new Map<string, number>();
  const running = new Map<string, string>();
  let overlaps = 0;
  const handler =
    (member: string) =>
    async (m: IncomingMessage): Promise<void> => {
      if (running.has(m.key)) overlaps += 1;
      running.set(m.key, member);
      await hold(m);
      const n = Number(readText(m.payload));
      await delay(n % 10 === 9 ? 150 : Math.floor(Math.random() * 3));
      const list = handled.get(m.key) ?? [];
      list.push(n);
      handled.set(m.key, list);
      byMember.set(member, (byMember.get(member) ?? 0) + 1);
      running.delete(m.key);
    };
  /** Per key, the first handling of each message in order (a redelivery handled again is left out). */
  const firsts = () =>
    new Map([...handled].map(([key, list]) => [key, list.filter((n, i) => list.indexOf(n) === i)]));
  return {
    handler,
    running: () => running.size,
    handledBy: (member: string) => byMember.get(member) ?? 0,
    overlaps: () => overlaps,
    count: () => [...firsts().values()].reduce((sum, list) => sum + list.length, 0),
    firsts,
  };
};

/** Publishes `keys` keys' messages, numbered per key, in small batches until stopped. */
const stream = (bus: MessageBus, topic: string, keys: number) => {
  let stop = false;
  let sent = 0;
  const failures: unknown[] = [];
  const done = (async () => {
    for (let n = 0; !stop; n += 1) {
      const batch = Array.from({ length: keys }, (_, k) => message(`k${k}-${n}`, `key-${k}`, String(n)));
      try {
        await bus.publish(topic, batch);
        sent = n + 1;
      } catch (error) {
        failures.push(error);
        return;
      }
      await delay(20);
    }
  })();
  return {
    /** Messages per key confirmed so far. */
    sent: () => sent,
    stop: async () => {
      stop = true;
      await done;
      expect(failures).toEqual([]);
      return sent;
    },
  };
};

describe('RabbitMQ shards: members of a group share the work', () => {
  const buses: MessageBus[] = [];
  const used: { exchange: string; topics: string[]; groups: string[] }[] = [];

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    for (const objects of used.splice(0)) await deleteRabbitMqObjects(url, objects);
  });

  const setup = (label: string) => {
    const suffix = uniqueSuffix();
    const exchange = `concord.test.${suffix}`;
    const topic = `adapter.${suffix}.${label}`;
    const group = `g-${suffix}`;
    used.push({ exchange, topics: [topic], groups: [group] });
    const bus = async (connectionName?: string) => {
      const created = await createRabbitMqBus({
        url,
        exchange,
        shards: 4,
        rebalanceIntervalMs: 200,
        drainTimeoutMs: 5_000,
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
        ...(connectionName === undefined ? {} : { connectionName }),
      });
      buses.push(created);
      return created;
    };
    return { exchange, topic, group, bus, suffix };
  };

  /** Every key's messages were each handled, and first handled in publish order. */
  const expectAllInOrder = (firsts: Map<string, number[]>, keys: number, perKey: number) => {
    const expected = Array.from({ length: perKey }, (_, n) => n);
    for (let k = 0; k < keys; k += 1) expect(firsts.get(`key-${k}`), `key-${k}`).toEqual(expected);
  };

  it('gives a member that joins its share, hands shards over in order, and loses nothing', async () => {
    const { topic, group, bus } = setup('join');
    const keys = 12;
    const book = ledger();
    const publisher = await bus();
    const a = await (await bus()).subscribe({ group, topics: [topic], handler: book.handler('a') });
    expect([...held(a, topic)].sort()).toEqual([0, 1, 2, 3]); // alone, it took every shard at once
    const publishing = stream(publisher, topic, keys);
    await waitFor('a to handle some', () => book.handledBy('a') > keys * 5, 20_000);

    const b = await (await bus()).subscribe({ group, topics: [topic], handler: book.handler('b') });
    await waitFor(
      'a fair share each',
      () => held(a, topic).length === 2 && held(b, topic).length === 2,
      20_000,
    );
    expect(new Set([...held(a, topic), ...held(b, topic)])).toEqual(new Set([0, 1, 2, 3]));
    const handledByB = book.handledBy('b');
    await waitFor('b to handle more', () => book.handledBy('b') > handledByB + keys, 20_000);

    const perKey = await publishing.stop();
    await waitFor('every message', () => book.count() >= keys * perKey, 30_000);
    expectAllInOrder(book.firsts(), keys, perKey);
    expect(book.overlaps()).toBe(0);
    expect(book.handledBy('a')).toBeGreaterThan(0);
    expect(book.handledBy('b')).toBeGreaterThan(0);
  });

  it('gives a shard up only once its running handlers finished', async () => {
    const { topic, group, bus } = setup('drain');
    const stuck = gate();
    const book = ledger((m) => (readText(m.payload) === '0' ? stuck.opened : Promise.resolve()));
    const blocking = book.handler;
    const publisher = await bus();
    const a = await (await bus()).subscribe({ group, topics: [topic], handler: blocking('a') });
    // A key in each shard, its first message held in a's handler.
    const keys = Array.from({ length: 4 }, (_, shard) => {
      for (let k = 0; ; k += 1) if (shardOf(`key-${k}`, 4) === shard) return `key-${k}`;
    });
    await publisher.publish(
      topic,
      keys.map((key) => message(`${key}-0`, key, '0')),
    );
    await waitFor('a to be handling every key', () => book.running() === 4, 10_000);
    const b = await (await bus()).subscribe({ group, topics: [topic], handler: blocking('b') });
    await publisher.publish(
      topic,
      keys.map((key) => message(`${key}-1`, key, '1')),
    );
    // a would give two shards up, but their handlers run: b gets nothing meanwhile.
    await delay(1_000);
    expect(held(b, topic)).toEqual([]);
    expect(book.handledBy('b')).toBe(0);
    stuck.open();
    await waitFor(
      'a fair share each',
      () => held(a, topic).length === 2 && held(b, topic).length === 2,
      20_000,
    );
    await waitFor('every message', () => book.count() >= 8, 20_000);
    for (const key of keys) expect(book.firsts().get(key), key).toEqual([0, 1]);
    expect(book.overlaps()).toBe(0);
  });

  it('gives the shards of a member that leaves to the others, in order', async () => {
    const { topic, group, bus } = setup('leave');
    const keys = 12;
    const book = ledger();
    const publisher = await bus();
    const a = await (await bus()).subscribe({ group, topics: [topic], handler: book.handler('a') });
    const leaving = await bus();
    const b = await leaving.subscribe({ group, topics: [topic], handler: book.handler('b') });
    await waitFor(
      'a fair share each',
      () => held(a, topic).length === 2 && held(b, topic).length === 2,
      20_000,
    );
    const publishing = stream(publisher, topic, keys);
    await waitFor(
      'both to handle some',
      () => book.handledBy('a') > keys && book.handledBy('b') > keys,
      20_000,
    );

    await leaving.close(); // mid-stream
    await waitFor('a to hold every shard', () => held(a, topic).length === 4, 20_000);
    const handledByA = book.handledBy('a');
    await waitFor('a to handle more', () => book.handledBy('a') > handledByA + keys * 3, 20_000);

    const perKey = await publishing.stop();
    await waitFor('every message', () => book.count() >= keys * perKey, 30_000);
    expectAllInOrder(book.firsts(), keys, perKey);
    expect(book.overlaps()).toBe(0);
  });

  it('takes over the shards of a member whose connection died, losing nothing and keeping order', async () => {
    const { topic, group, bus, suffix } = setup('kill');
    const keys = 12;
    const book = ledger();
    const publisher = await bus();
    const a = await (await bus()).subscribe({ group, topics: [topic], handler: book.handler('a') });
    const victim = `concord-shards-victim-${suffix}`;
    const b = await (await bus(victim)).subscribe({ group, topics: [topic], handler: book.handler('b') });
    await waitFor(
      'a fair share each',
      () => held(a, topic).length === 2 && held(b, topic).length === 2,
      20_000,
    );
    const publishing = stream(publisher, topic, keys);
    await waitFor(
      'both to handle some',
      () => book.handledBy('a') > keys && book.handledBy('b') > keys,
      20_000,
    );

    await killConnection(victim); // b's process lives on: it reconnects and claims shards again
    const handledByA = book.handledBy('a');
    await waitFor('a to handle more', () => book.handledBy('a') > handledByA + keys * 3, 20_000);
    await waitFor(
      'the shards spread again',
      () => held(a, topic).length === 2 && held(b, topic).length === 2,
      20_000,
    );

    const perKey = await publishing.stop();
    await waitFor('every message', () => book.count() >= keys * perKey, 30_000);
    // A handler of b still running when its connection died may finish after a's redelivery of the same
    // message: both are counted as one handling (the inbox's business); the first handlings are in order.
    expectAllInOrder(book.firsts(), keys, perKey);
  });

  it('hands a lane with a single active consumer over in order when its member closes', async () => {
    const { topic, group, exchange } = setup('lane');
    const create = async () => {
      const created = await createRabbitMqBus({
        url,
        exchange,
        shards: 1,
        singleActiveConsumer: true,
        prefetch: 50,
      });
      buses.push(created);
      return created;
    };
    const book = ledger();
    const first = await create();
    await first.subscribe({ group, topics: [topic], handler: book.handler('first'), concurrency: 1 });
    const second = await create();
    await second.subscribe({ group, topics: [topic], handler: book.handler('second') });
    // One key: the active member holds up to 50 prefetched messages while it works through them.
    const total = 200;
    for (let n = 0; n < total; n += 20) {
      await first.publish(
        topic,
        Array.from({ length: 20 }, (_, i) => message(`m-${n + i}`, 'one-key', String(n + i))),
      );
    }
    await waitFor('the first member to be under way', () => book.handledBy('first') >= 20, 10_000);
    // Closing must not make the standby active while its prefetched messages are still out (basic.cancel
    // would): they come back, ahead of the rest, when its channel closes.
    await first.close();
    await waitFor('every message', () => book.count() >= total, 20_000);
    expect(book.firsts().get('one-key')).toEqual(Array.from({ length: total }, (_, n) => n));
    expect(book.handledBy('second')).toBeGreaterThan(0);
  });
});

describe('RabbitMQ behaviour the shard hand-over relies on (3.10 quorum queues)', () => {
  it('serves the messages of a closed channel, in order, before the rest, to a single active consumer', async () => {
    const queue = `adapter.${uniqueSuffix()}.returns`;
    const owner = await connect(url);
    const next = await connect(url);
    try {
      const admin = await owner.createConfirmChannel();
      await admin.assertQueue(queue, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true },
      });
      for (let n = 0; n < 30; n += 1) admin.sendToQueue(queue, Buffer.from(String(n)));
      await admin.waitForConfirms();
      const held = await owner.createChannel();
      await held.prefetch(10);
      const taken: ConsumeMessage[] = [];
      await held.consume(queue, (m) => void (m !== null && taken.push(m)));
      await waitFor('the prefetched messages', () => taken.length >= 10, 5_000);
      for (const m of taken.slice(0, 3)) held.ack(m); // 0..2 handled; the rest still out
      const received: number[] = [];
      const standby = await next.createChannel();
      await standby.consume(queue, (m) => {
        if (m === null) return;
        received.push(Number(m.content.toString()));
        standby.ack(m);
      });
      await delay(300);
      expect(received).toEqual([]); // not active while the owner's channel is open
      await held.close();
      await waitFor('the rest', () => received.length >= 27, 5_000);
      expect(received).toEqual(Array.from({ length: 27 }, (_, i) => i + 3));
      await standby.deleteQueue(queue);
    } finally {
      await owner.close().catch(() => undefined);
      await next.close().catch(() => undefined);
    }
  });

  it('refuses a second exclusive consumer of a classic queue with 403 (a shard claim)', async () => {
    const queue = `${groupQueue(`g-${uniqueSuffix()}`, 'adapter.claims')}.0~claim`;
    const first = await connect(url);
    const second = await connect(url);
    try {
      const owner = await first.createChannel();
      await owner.assertQueue(queue, { durable: false, arguments: { 'x-queue-type': 'classic' } });
      await owner.consume(queue, () => undefined, { exclusive: true, noAck: true });
      const other = await second.createChannel();
      other.on('error', () => undefined);
      await expect(
        other.consume(queue, () => undefined, { exclusive: true, noAck: true }),
      ).rejects.toMatchObject({
        code: 403,
      });
      await owner.close(); // the claim goes with its channel
      const again = await second.createChannel();
      await again.consume(queue, () => undefined, { exclusive: true, noAck: true });
      await again.deleteQueue(queue);
    } finally {
      await first.close().catch(() => undefined);
      await second.close().catch(() => undefined);
    }
  });
});
