import { createRabbitMqBus, decodeJson, encodeJson, groupQueues, namespacedBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { consumedTopics, fullTopology, Topics, topologyOf } from '@concord/core/messages';
import type { ConflictDetectedMessage, ServiceName } from '@concord/core/messages';
import type { TestDatabase } from '@concord/outbox/testing';
import { connectInfrastructure, createMetrics, createRelayModule } from '@concord/service-kit';
import type { Infrastructure, ServiceModule } from '@concord/service-kit';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIngestModule } from '../src/index.js';
import { event, openDatabase, unique, waitFor } from './support/harness.js';

const url = inject('AMQP_URL');

/**
 * The deployment of issue 15: ingest starts alone on RabbitMQ and takes events before resolver,
 * projector and notifier ever started. What its relay publishes waits in the queues ingest declared at
 * start for the groups downstream (DESIGN §4), and reaches each group once its service starts.
 */
describe('ingest started before its consumers, on RabbitMQ', () => {
  const suffix = unique();
  const prefix = `it-${suffix}.`;
  const exchange = `concord.test.${suffix}`;
  let t: TestDatabase;
  let infra: Infrastructure;
  let modules: ServiceModule[] = [];
  let later: MessageBus | undefined;

  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    const metrics = createMetrics('ingest');
    infra = await connectInfrastructure(
      {
        DATABASE_URL: t.url ?? '',
        DATABASE_POOL_SIZE: 5,
        DATABASE_SCHEMA: t.schema,
        BROKER: 'rabbitmq',
        AMQP_URL: url,
        AMQP_EXCHANGE: exchange,
        CONCORD_TOPIC_PREFIX: prefix,
      },
      { service: 'ingest', logger: silentLogger, metrics, topology: topologyOf('ingest') },
    );
    const { db, bus } = infra;
    modules = [
      createIngestModule({ db, bus, logger: silentLogger, registry: metrics.registry, schema: t.schema }),
      createRelayModule({ db, bus, logger: silentLogger, metrics, relay: { pollIntervalMs: 50 } }),
    ];
    for (const module of modules) await module.start();
  });

  afterAll(async () => {
    for (const module of modules) await module.close();
    await later?.close();
    for (const client of infra?.clients ?? []) await client.close();
    await t?.close();
    const connection = await connect(url);
    const channel = await connection.createChannel();
    for (const { topic, groups } of fullTopology()) {
      for (const group of groups) {
        for (const queued of [topic, `${topic}.dlq`]) {
          for (const queue of groupQueues(`${prefix}${group}`, `${prefix}${queued}`))
            await channel.deleteQueue(queue);
        }
      }
    }
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  it('delivers what ingest published before resolver, projector and notifier ever started', async () => {
    const aggregateId = `task-${unique()}`;
    const first = event({ aggregateId, data: { title: 'first' } });
    const concurrent = event({ aggregateId, baseVersion: 0, data: { title: 'concurrent' } });
    for (const submitted of [first, concurrent]) {
      await infra.bus.publish(Topics.submit, [
        { id: submitted.id, key: aggregateId, payload: encodeJson(submitted) },
      ]);
    }
    // Every row the relay published was confirmed into a queue (a returned one would stay pending).
    const pending = async () =>
      (await infra.db.query<{ pending: number }>(`SELECT pending FROM ${t.schema}.outbox_backlog()`)).rows[0]
        ?.pending;
    await waitFor('the outbox published', async () => {
      const { rows } = await infra.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${t.schema}.outbox`,
      );
      return (rows[0]?.n ?? 0) >= 4 && (await pending()) === 0;
    });

    // Now the other services start, each subscribing its group as it does.
    // As the services configure RabbitMQ by default (AMQP_SINGLE_ACTIVE_CONSUMER): a queue's arguments are
    // fixed by whoever declares it first, here ingest.
    later = namespacedBus(await createRabbitMqBus({ url, exchange, singleActiveConsumer: true }), prefix);
    const received = new Map<ServiceName, IncomingMessage[]>();
    for (const service of ['resolver', 'projector', 'notifier'] as const) {
      const into: IncomingMessage[] = [];
      received.set(service, into);
      await later.subscribe({
        group: service,
        topics: consumedTopics(service),
        handler: (message) => Promise.resolve(void into.push(message)),
      });
    }
    const of = (service: ServiceName) => received.get(service) ?? [];
    await waitFor(
      'every group',
      () => of('resolver').length >= 1 && of('projector').length >= 1 && of('notifier').length >= 3,
    );
    const detected = decodeJson(of('resolver')[0]?.payload ?? new Uint8Array()) as ConflictDetectedMessage;
    expect(detected.conflict.event.id).toBe(concurrent.id);
    expect(of('projector').map((m) => m.topic)).toEqual([Topics.applied]);
    // The applied message and both outcomes (`applied`, `conflict`).
    expect(
      of('notifier')
        .map((m) => m.topic)
        .sort(),
    ).toEqual([Topics.applied, Topics.outcome, Topics.outcome].sort());
  });
});
