import { createRabbitMqBus, DLQ_HEADERS, groupQueues } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { OutcomeMessage } from '@concord/core/messages';
import { createRelay } from '@concord/outbox';
import type { Relay } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics } from '@concord/service-kit';
import type { ServiceModule } from '@concord/service-kit';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIngestModule } from '../src/index.js';
import { event, openDatabase, unique, waitFor } from './support/harness.js';

const url = inject('AMQP_URL');
const SUBMIT = 'concord.events.submit';
const OUTCOME = 'concord.events.outcome';

/**
 * Foreign producers may publish submit messages without an AMQP `message_id`. Each must be handled on
 * its own (an event and its outcome, or a dead letter), never taken for a redelivery of another.
 */
describe('submit messages without a message id on RabbitMQ', () => {
  const suffix = unique();
  const exchange = `concord.test.${suffix}`;
  const group = `ingest-${suffix}`;
  const collectorGroup = `collect-${suffix}`;
  let t: TestDatabase;
  let bus: MessageBus;
  let module: ServiceModule;
  let relay: Relay;
  const outcomes: IncomingMessage[] = [];
  const dead: IncomingMessage[] = [];

  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    bus = await createRabbitMqBus({ url, exchange, drainTimeoutMs: 2_000 });
    for (const [topic, into] of [
      [OUTCOME, outcomes],
      [`${SUBMIT}.dlq`, dead],
    ] as const) {
      await bus.subscribe({
        group: collectorGroup,
        topics: [topic],
        handler: (message) => {
          into.push(message);
          return Promise.resolve();
        },
      });
    }
    module = createIngestModule({
      db: t.db,
      bus,
      logger: silentLogger,
      registry: createMetrics('ingest').registry,
      options: { group, groupCommit: { lingerMs: 1 } },
    });
    await module.start();
    relay = createRelay({ db: t.db, bus, pollIntervalMs: 50, owner: `test-${suffix}` });
    relay.start();
  });

  afterAll(async () => {
    await module?.close();
    await relay?.close();
    await bus?.close();
    await t?.close();
    const connection = await connect(url);
    const channel = await connection.createChannel();
    for (const g of [group, collectorGroup]) {
      for (const topic of [SUBMIT, `${SUBMIT}.dlq`, OUTCOME, `${OUTCOME}.dlq`]) {
        for (const queue of groupQueues(g, topic)) await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(exchange);
    await connection.close();
  });

  /** Publishes straight to the exchange, as a foreign client does: no message id, no Concord headers. */
  const publishRaw = async (payloads: readonly unknown[]): Promise<void> => {
    const connection = await connect(url);
    try {
      const channel = await connection.createConfirmChannel();
      for (const payload of payloads) channel.publish(exchange, SUBMIT, Buffer.from(JSON.stringify(payload)));
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
  };

  it('gives each of five id-less events its outcome, and dead-letters each of two unusable ones', async () => {
    const id = `task-${unique()}`;
    const events = [1, 2, 3, 4, 5].map((n) => event({ id: `${id}-${n}`, aggregateId: `${id}-${n}` }));
    const unusable = [{ type: 'no id', data: {} }, { events: 'not a list' }];
    await publishRaw([...events, ...unusable]);

    const finalOf = (eventId: string) =>
      outcomes
        .map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')) as OutcomeMessage)
        .find((o) => o.eventId === eventId && o.final);
    await waitFor(
      'five outcomes and two dead letters',
      () => events.every((e) => finalOf(e.id) !== undefined) && dead.length >= 2,
    );
    expect(events.map((e) => finalOf(e.id)?.outcome)).toEqual(Array(5).fill('applied'));
    expect(dead).toHaveLength(2);
    expect(dead.map((m) => m.headers[DLQ_HEADERS.errorCode]).sort()).toEqual([
      'CONCORD_BATCH_INVALID',
      'CONCORD_EVENT_MISSING_FIELD',
    ]);
    expect(new Set(dead.map((m) => m.id)).size).toBe(2);
  });
});
