/**
 * The relay over real RabbitMQ when no queue takes a topic's messages yet (a deployment whose consumers
 * have not declared their queues): publishes are `mandatory`, the returned messages fail retryably, and
 * the rows stay in the outbox until a queue exists, then go through once each.
 */
import { createRabbitMqBus } from '@concord/bus';
import type { MessageBus, PublishEvent } from '@concord/bus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOutbox } from '../src/index.js';
import { collect, unique, waitFor, writeMessages } from './helpers.js';
import { useRelayHarness } from './support/relay-harness.js';

const h = useRelayHarness();
const outbox = createOutbox();
const exchange = `concord.test.${unique()}`;
const unroutable: PublishEvent[] = [];
let bus: MessageBus;

beforeAll(async () => {
  bus = await createRabbitMqBus({
    url: inject('AMQP_URL'),
    exchange,
    publishObserver: (event) => unroutable.push(event),
  });
});
afterAll(() => bus.close());

/** Rows not yet published, of every topic. */
const pending = async (): Promise<number> => {
  const { rows } = await h.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()');
  return rows[0]?.pending ?? 0;
};

describe('relay over RabbitMQ, a topic without queues', () => {
  it('keeps the rows a broker returns and publishes them once their queue exists', async () => {
    const [routed, unrouted] = [`t.${unique()}`, `t.${unique()}`];
    const group = `g.${unique()}`;
    const { received: routedReceived } = await collect(bus, [routed]);
    await writeMessages({ db: h.db, outbox, topic: unrouted, count: 20, keys: 4 });
    await writeMessages({ db: h.db, outbox, topic: routed, count: 20, keys: 4 });
    h.relay(bus, { backoff: { initialDelayMs: 20, maxDelayMs: 200 } });

    // The routed topic flows; the other's messages come back from the broker and their rows stay.
    const refusals = () => unroutable.filter((e) => e.topic === unrouted).length;
    await waitFor('the routed topic', () => routedReceived.length === 20);
    await waitFor('the routed rows marked', async () => (await pending()) === 20);
    // Retried with backoff, refused again each time, and kept.
    const before = refusals();
    await waitFor('more attempts', () => refusals() >= before + 8);
    expect(await pending()).toBe(20);
    const { rows } = await h.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM concord.outbox_dead_letters',
    );
    expect(rows[0]?.n).toBe(0);

    // The consumer group's queue appears (its service declared it): the rows go through.
    await bus.declare([{ topic: unrouted, groups: [group] }]);
    await waitFor('the refused rows published', async () => (await pending()) === 0);
    const { received } = await collect(bus, [unrouted], group);
    // Once each, but for a batch the relay published while the group's shard queues were being bound
    // (some keys' shards taking messages, others not yet): it publishes those keys' rows again, and the
    // consumers' inboxes drop the copies. Every row arrives, first in its key's order.
    const ids = () => new Set(received.map((m) => m.id));
    await waitFor('every message', () => ids().size >= 20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ids().size).toBe(20);
    for (let k = 0; k < 4; k += 1) {
      const order = received.filter((m) => m.key === `k${k}`).map((m) => new TextDecoder().decode(m.payload));
      expect(order.filter((body, i) => order.indexOf(body) === i)).toEqual(
        [1, 2, 3, 4, 5].map((n) => `k${k}:${n}`),
      );
    }
  });
});
