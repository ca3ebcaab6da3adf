/**
 * Two instances of one consumer group over RabbitMQ, as a deployment runs them: with the services'
 * default bus configuration, a key's messages are handled in order across both instances.
 */
import { createBus, namespacedBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { uniqueSuffix, waitFor } from '@concord/bus/testing';
import { silentLogger } from '@concord/core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { busConfigFromEnv } from '../src/index.js';

// Odd, so that deliveries alternating between the instances split every key between them.
const KEYS = 5;
const PER_KEY = 15;

describe('a consumer group with two instances over RabbitMQ', () => {
  const run = uniqueSuffix();
  const buses: MessageBus[] = [];
  afterAll(async () => {
    for (const bus of buses) await bus.close();
  });

  const open = async (name: string): Promise<MessageBus> => {
    const env = {
      DATABASE_URL: 'postgres://unused',
      DATABASE_POOL_SIZE: 1,
      DATABASE_SCHEMA: 'concord',
      BROKER: 'rabbitmq' as const,
      AMQP_URL: inject('AMQP_URL'),
      AMQP_EXCHANGE: `group-order-${run}`,
      CONCORD_TOPIC_PREFIX: `group-order-${run}.`,
    };
    const bus = namespacedBus(
      await createBus(busConfigFromEnv(env, name, silentLogger)),
      env.CONCORD_TOPIC_PREFIX,
    );
    buses.push(bus);
    return bus;
  };

  it("handles each key's messages in order across both instances", async () => {
    const topic = 'concord.events.applied';
    const handled: string[] = [];
    const handler = async (message: IncomingMessage) => {
      // Uneven work: a competing consumer that took a later message could finish it first.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 15));
      handled.push(message.id);
    };
    const first = await open('instance-1');
    const second = await open('instance-2');
    await first.declare([{ topic, groups: ['projector'] }]);
    await first.subscribe({ group: 'projector', topics: [topic], handler, concurrency: 4 });
    await second.subscribe({ group: 'projector', topics: [topic], handler, concurrency: 4 });
    const messages = Array.from({ length: PER_KEY }, (_, n) =>
      Array.from({ length: KEYS }, (_, k) => ({
        id: `k${k}-${String(n).padStart(3, '0')}`,
        key: `k${k}`,
        payload: new TextEncoder().encode('{}'),
        headers: {},
      })),
    ).flat();
    await first.publish(topic, messages);
    await waitFor('every message handled', () => handled.length >= messages.length, 30_000);
    for (let k = 0; k < KEYS; k += 1) {
      const ofKey = handled.filter((id) => id.startsWith(`k${k}-`));
      expect(ofKey).toEqual([...ofKey].sort());
    }
  });
});
