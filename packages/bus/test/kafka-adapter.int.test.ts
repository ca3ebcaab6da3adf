import { collector, gate, message, publishAll, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { Socket } from 'node:net';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBus } from '../src/kafka/index.js';
import type { KafkaBusOptions } from '../src/kafka/index.js';
import type { MessageBus } from '../src/port.js';
import { deleteTopics, testAdmin } from './kafka-support.js';

const brokers = inject('KAFKA_BROKERS');

describe('Kafka adapter', () => {
  const buses: MessageBus[] = [];
  const topics: string[] = [];
  const bus = (options: Partial<KafkaBusOptions> = {}): MessageBus => {
    const created = createKafkaBus({ brokers, clientId: 'concord-kafka-test', ...options });
    buses.push(created);
    return created;
  };
  const topic = (label: string): string => {
    const name = `kafka-test.${uniqueSuffix()}.${label}`;
    topics.push(name);
    return name;
  };

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    await deleteTopics(brokers, topics.splice(0));
  });

  it('turns Nagle off on its sockets (a request after another would wait for the delayed ACK)', async () => {
    const setNoDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    try {
      await bus().publish(topic('nodelay'), [message('t-1', 'k')]);
      expect(setNoDelay.mock.calls.length).toBeGreaterThan(0);
      expect(setNoDelay.mock.calls.every(([on]) => on === true)).toBe(true);
    } finally {
      setNoDelay.mockRestore();
    }
  });

  it('creates the topic and its dead-letter topic with the configured partitions', async () => {
    const name = topic('create');
    await bus({ partitions: 4 }).publish(name, [message('t-1', 'k')]);
    const admin = await testAdmin(brokers);
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [name, `${name}.dlq`] });
      const partitions = Object.fromEntries(metadata.map((t) => [t.name, t.partitions.length]));
      expect(partitions).toEqual({ [name]: 4, [`${name}.dlq`]: 4 });
    } finally {
      await admin.disconnect();
    }
  });

  it('reports readiness once connected, and not after close', async () => {
    const b = bus();
    await waitFor('the producer to connect', () => b.isReady(), 20_000);
    await b.close();
    expect(b.isReady()).toBe(false);
  });

  it('commits a partition only up to the first message not handled yet', async () => {
    const name = topic('commit');
    const group = `commit-${uniqueSuffix()}`;
    const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`);
    // One key: one partition, handled strictly in order.
    await publishAll(
      bus(),
      name,
      ids.map((id) => message(id, 'one-key')),
      10,
    );
    const first = bus({ drainTimeoutMs: 200 });
    const stuck = gate();
    const handled: string[] = [];
    await first.subscribe({
      group,
      topics: [name],
      handler: async (m) => {
        if (m.id === 'c-5') await stuck.opened;
        handled.push(m.id);
      },
    });
    await waitFor('c-0..c-4', () => handled.length === 5, 20_000);
    await first.close();
    stuck.open();

    const second = collector();
    await bus().subscribe({ group, topics: [name], handler: second.handler });
    await waitFor('the rest', () => second.received.length >= 5, 20_000);
    expect(second.ids()).toEqual(ids.slice(5));
  });

  it('splits a publish larger than one produce request', async () => {
    const name = topic('large');
    const b = bus({ maxRequestBytes: 64 * 1024 });
    const got = collector();
    await b.subscribe({ group: `large-${uniqueSuffix()}`, topics: [name], handler: got.handler });
    const big = Array.from({ length: 40 }, (_, i) => ({
      id: `l-${i}`,
      key: `k-${i % 4}`,
      payload: new Uint8Array(10_000).fill(i),
    }));
    await b.publish(name, big);
    await waitFor('all large messages', () => got.received.length >= big.length, 20_000);
    expect(new Set(got.ids())).toEqual(new Set(big.map((m) => m.id)));
  });
});
