import { cloudEventsBus, createKafkaBus, createRabbitMqBus, groupQueues, namespacedBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { OutcomeMessage } from '@concord/core/messages';
import { createRelay } from '@concord/outbox';
import type { Relay } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics } from '@concord/service-kit';
import type { ServiceModule } from '@concord/service-kit';
import { connect } from 'amqplib';
import { CloudEvent, Kafka as CloudEventsKafka } from 'cloudevents';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIngestModule } from '../src/index.js';
import { openDatabase, unique, waitFor } from './support/harness.js';

const SUBMIT = 'concord.events.submit';
const OUTCOME = 'concord.events.outcome';

/** A task event as a writer's CloudEvents SDK builds it. */
type TaskEvent = CloudEvent<Record<string, unknown>>;

const cloudEvent = (aggregateId: string, extra: Record<string, unknown> = {}): TaskEvent =>
  new CloudEvent<Record<string, unknown>>({
    id: `ce-${unique()}`,
    source: '/apps/fleet',
    type: 'TaskUpdated',
    subject: aggregateId,
    datacontenttype: 'application/json',
    aggregatetype: 'task',
    data: { title: 'Buy milk' },
    ...extra,
  });

/** Ingest on `bus` with a relay, and the outcome messages it publishes. */
const startIngest = async (t: TestDatabase, bus: MessageBus, group: string) => {
  const outcomes: IncomingMessage[] = [];
  await bus.subscribe({
    group: `collect-${group}`,
    topics: [OUTCOME],
    handler: (message) => {
      outcomes.push(message);
      return Promise.resolve();
    },
  });
  const module: ServiceModule = createIngestModule({
    db: t.db,
    bus,
    logger: silentLogger,
    registry: createMetrics('ingest').registry,
    options: { group, groupCommit: { lingerMs: 1 } },
  });
  await module.start();
  const relay: Relay = createRelay({ db: t.db, bus, pollIntervalMs: 50, owner: `test-${group}` });
  relay.start();
  const finalOf = (eventId: string) =>
    outcomes
      .map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')) as OutcomeMessage)
      .find((o) => o.eventId === eventId && o.final);
  const outcomeMessage = (eventId: string) =>
    outcomes.find(
      (m) => (JSON.parse(Buffer.from(m.payload).toString('utf8')) as OutcomeMessage).eventId === eventId,
    );
  return { module, relay, finalOf, outcomeMessage };
};

describe('binary-mode CloudEvents on the Kafka submit topic', () => {
  const brokers = inject('KAFKA_BROKERS');
  const prefix = `ce${unique()}.`;
  const group = `ingest-${unique()}`;
  let t: TestDatabase;
  let bus: MessageBus;
  let ingest: Awaited<ReturnType<typeof startIngest>>;

  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    bus = namespacedBus(
      createKafkaBus({ brokers, clientId: 'concord-ce-test', partitions: 1, fromBeginning: true }),
      prefix,
    );
    ingest = await startIngest(t, bus, group);
  }, 90_000);

  afterAll(async () => {
    await ingest?.module.close();
    await ingest?.relay.close();
    await bus?.close();
    await t?.close();
    const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
  });

  it('takes ce_* headers as the attributes and the value as data, as the SDK writes them', async () => {
    const aggregateId = `task-${unique()}`;
    const events = [
      cloudEvent(aggregateId, { partitionkey: aggregateId, origin: 'truck-7' }),
      cloudEvent(aggregateId, { partitionkey: aggregateId, baseversion: '1', data: { done: true } }),
      // Invalid on its own: no aggregatetype. Rejected with its outcome, nothing else held up.
      new CloudEvent<Record<string, unknown>>({
        id: `ce-${unique()}`,
        source: '/x',
        type: 'T',
        subject: aggregateId,
        data: { a: 1 },
      }),
    ];
    const producer = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      for (const ce of events) {
        const message = CloudEventsKafka.binary(ce);
        await producer.send({
          topic: `${prefix}${SUBMIT}`,
          messages: [
            {
              key: message.key ?? aggregateId,
              value: JSON.stringify(message.value),
              headers: Object.fromEntries(
                Object.entries(message.headers)
                  .filter(([, value]) => value !== undefined)
                  .map(([name, value]) => [name, String(value)]),
              ),
            },
          ],
        });
      }
    } finally {
      await producer.disconnect();
    }
    await waitFor('three outcomes', () => events.every((ce) => ingest.finalOf(ce.id) !== undefined), 30_000);
    expect(events.map((ce) => ingest.finalOf(ce.id)?.outcome)).toEqual(['applied', 'applied', 'rejected']);
    expect(ingest.finalOf(events[1]?.id ?? '')).toMatchObject({ aggregateId, version: 2 });
    expect(ingest.finalOf(events[2]?.id ?? '')?.error?.code).toBe('CONCORD_EVENT_MISSING_FIELD');
  });
});

describe('binary-mode CloudEvents on the RabbitMQ submit topic', () => {
  const url = inject('AMQP_URL');
  const suffix = unique();
  const exchange = `concord.test.${suffix}`;
  const group = `ingest-${suffix}`;
  let t: TestDatabase;
  let bus: MessageBus;
  let ingest: Awaited<ReturnType<typeof startIngest>>;

  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    // Outcomes as binary-mode CloudEvents too (CONCORD_CLOUDEVENTS_OUTCOMES), through the real broker.
    bus = cloudEventsBus(await createRabbitMqBus({ url, exchange, drainTimeoutMs: 2_000 }), {
      source: '/concord/ingest',
      topics: [OUTCOME],
      binding: 'amqp',
    });
    ingest = await startIngest(t, bus, group);
  });

  afterAll(async () => {
    await ingest?.module.close();
    await ingest?.relay.close();
    await bus?.close();
    await t?.close();
    const connection = await connect(url);
    const channel = await connection.createChannel();
    for (const g of [group, `collect-${group}`]) {
      for (const topic of [SUBMIT, `${SUBMIT}.dlq`, OUTCOME, `${OUTCOME}.dlq`]) {
        for (const queue of groupQueues(g, topic)) await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  /**
   * The AMQP binding's binary mode, as a foreign client publishes it: every attribute but data an
   * application property named with the prefix (numbers as AMQP numbers), data as the body,
   * `datacontenttype` as the content-type property.
   */
  const publishBinary = async (events: readonly TaskEvent[], prefixOf: (i: number) => string) => {
    const connection = await connect(url);
    try {
      const channel = await connection.createConfirmChannel();
      events.forEach((ce, i) => {
        const { data, datacontenttype, ...attributes } = ce.toJSON();
        const headers = Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [`${prefixOf(i)}${name}`, value]),
        );
        channel.publish(exchange, SUBMIT, Buffer.from(JSON.stringify(data)), {
          headers,
          contentType: String(datacontenttype),
        });
      });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
  };

  it('takes cloudEvents_ and cloudEvents: application properties as the attributes', async () => {
    const aggregateId = `task-${unique()}`;
    const events = [
      cloudEvent(aggregateId, { origin: 'truck-7' }),
      cloudEvent(aggregateId, { baseversion: 1, data: { done: true } }),
    ];
    await publishBinary(events, (i) => (i === 0 ? 'cloudEvents_' : 'cloudEvents:'));
    await waitFor('two outcomes', () => events.every((ce) => ingest.finalOf(ce.id) !== undefined));
    expect(events.map((ce) => ingest.finalOf(ce.id)?.outcome)).toEqual(['applied', 'applied']);
    expect(ingest.finalOf(events[1]?.id ?? '')).toMatchObject({ aggregateId, version: 2 });
    // The outcome came back through RabbitMQ as a binary-mode CloudEvent of the AMQP binding.
    expect(ingest.outcomeMessage(events[0]?.id ?? '')?.headers).toMatchObject({
      cloudEvents_specversion: '1.0',
      cloudEvents_source: '/concord/ingest',
      cloudEvents_type: 'dev.concord.outcome',
      cloudEvents_subject: aggregateId,
      cloudEvents_eventid: events[0]?.id,
      cloudEvents_outcome: 'applied',
      'content-type': 'application/json',
    });
  });

  it('tells apart id-less messages whose data is the same: the event id is in the properties', async () => {
    const events = [1, 2, 3].map(() => cloudEvent(`task-${unique()}`, { data: { title: 'same' } }));
    await publishBinary(events, () => 'cloudEvents_');
    await waitFor('three outcomes', () => events.every((ce) => ingest.finalOf(ce.id) !== undefined));
    expect(events.map((ce) => ingest.finalOf(ce.id)?.outcome)).toEqual(['applied', 'applied', 'applied']);
  });

  it('rejects a binary event whose content type is not JSON, by its id', async () => {
    const ce = cloudEvent(`task-${unique()}`, { datacontenttype: 'text/plain' });
    await publishBinary([ce], () => 'cloudEvents_');
    await waitFor('the outcome', () => ingest.finalOf(ce.id) !== undefined);
    expect(ingest.finalOf(ce.id)).toMatchObject({
      outcome: 'rejected',
      error: { code: 'CONCORD_EVENT_UNSUPPORTED_CONTENT_TYPE' },
    });
  });
});
