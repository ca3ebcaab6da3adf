/**
 * `concord_consumer_lag{group,topic}` on real brokers: a group whose queue (RabbitMQ) or offsets (Kafka)
 * stay behind while nobody consumes shows exactly the messages published to its topic.
 */
import { createKafkaBus, createRabbitMqBus, namespacedBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { message, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { silentLogger } from '@concord/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { consumerLagProbeFor, createConsumerLagModule, createMetrics } from '../src/index.js';
import type { ConsumerLagModule, InfrastructureEnv, ServiceMetrics } from '../src/index.js';
import { scrape } from './support/scrape.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of closing.splice(0).reverse()) await x.close();
});

const publish = (bus: MessageBus, topic: string, count: number) =>
  bus.publish(
    topic,
    Array.from({ length: count }, (_, i) => message(`m${i}`, `k${i}`)),
  );

const lagShown = async (metrics: ServiceMetrics, group: string, topic: string) =>
  (await scrape(metrics.registry)).value('concord_consumer_lag', { group, topic });

const env = (broker: Partial<InfrastructureEnv>): InfrastructureEnv => ({
  DATABASE_URL: '',
  DATABASE_POOL_SIZE: 1,
  DATABASE_SCHEMA: 'concord',
  BROKER: 'memory',
  AMQP_EXCHANGE: 'unused',
  CONCORD_TOPIC_PREFIX: '',
  ...broker,
});

/** The module sampling on a short timer, closed after the test. */
const started = async (module: ConsumerLagModule) => {
  closing.push(module);
  await module.start();
  return module;
};

describe('consumer lag gauge', () => {
  it('RabbitMQ: the depth of the queue of a group that does not consume', async () => {
    const url = inject('AMQP_URL');
    const suffix = uniqueSuffix();
    const [group, topic] = [`g-${suffix}`, `lag.${suffix}`];
    const bus = await createRabbitMqBus({ url, exchange: `concord.test.${suffix}`, drainTimeoutMs: 100 });
    closing.push(bus);
    await bus.declare([{ topic, groups: [group] }]);
    await publish(bus, topic, 5);
    const metrics = createMetrics('lag-test');
    await started(
      createConsumerLagModule({
        probe: consumerLagProbeFor(env({ BROKER: 'rabbitmq', AMQP_URL: url }), {
          service: group,
          topology: [{ topic, groups: [group] }],
          logger: silentLogger,
        }),
        metrics,
        logger: silentLogger,
        intervalMs: 50,
      }),
    );
    await waitFor('lag 5', async () => (await lagShown(metrics, group, topic)) === 5);
    const shown = await scrape(metrics.registry);
    expect(shown.types.get('concord_consumer_lag')).toBe('gauge');
    expect(shown.samples.filter((s) => s.name === 'concord_consumer_lag')).toEqual([
      { name: 'concord_consumer_lag', labels: { group, topic, service: 'lag-test' }, value: 5 },
    ]);
    await publish(bus, topic, 2);
    await waitFor('lag 7', async () => (await lagShown(metrics, group, topic)) === 7);
  });

  it('Kafka: a service group that never committed is behind by every message of its topics', async () => {
    const brokers = inject('KAFKA_BROKERS');
    const suffix = uniqueSuffix();
    const prefix = `lag-${suffix}.`;
    const [service, topic] = ['lagged', `lag.${suffix}`];
    const kafka = createKafkaBus({ brokers, partitions: 3, drainTimeoutMs: 100 });
    closing.push(kafka);
    // As a deployment with CONCORD_TOPIC_PREFIX: the probe adds the prefix to group and topic.
    const bus = namespacedBus(kafka, prefix);
    await bus.declare([{ topic, groups: [service] }]);
    await publish(bus, topic, 9);
    const metrics = createMetrics('lag-test');
    const probe = consumerLagProbeFor(
      env({ BROKER: 'kafka', KAFKA_BROKERS: brokers, CONCORD_TOPIC_PREFIX: prefix }),
      {
        service,
        // Its own topic, and one it only publishes to (another group reads it): not its lag.
        topology: [
          { topic, groups: [service] },
          { topic: `other.${suffix}`, groups: ['someone-else'] },
        ],
        logger: silentLogger,
      },
    );
    await started(createConsumerLagModule({ probe, metrics, logger: silentLogger, intervalMs: 100 }));
    await waitFor('lag 9', async () => (await lagShown(metrics, service, topic)) === 9, 30_000);
    const series = (await scrape(metrics.registry)).samples.filter((s) => s.name === 'concord_consumer_lag');
    expect(series.map((s) => s.labels)).toEqual([{ group: service, topic, service: 'lag-test' }]);
  });
});
