/**
 * The bus dead-letter collector on Kafka: a group reads its `<topic>.dlq` with a second consumer of the same
 * consumer group (the assignment gives each member only the topics it subscribed to), keeps its dead
 * letter in Postgres, and a replay through the outbox reaches the group again, once.
 */
import { createKafkaBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { message, uniqueSuffix, waitFor } from '@concord/bus/testing';
import { ConcordError, silentLogger } from '@concord/core';
import { createBusDeadLetterStore, createRelay } from '@concord/outbox';
import type { Relay } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createDeadLettersModule } from '../src/index.js';
import type { ServiceModule } from '../src/index.js';

let database: TestDatabase;
let kafka: MessageBus;
let module: ServiceModule | undefined;
let relay: Relay | undefined;

beforeAll(async () => {
  database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  kafka = createKafkaBus({ brokers: inject('KAFKA_BROKERS'), partitions: 2, drainTimeoutMs: 100 });
});

afterAll(async () => {
  await relay?.close();
  await module?.close();
  await kafka?.close();
  await database?.close();
});

it('Kafka: a group keeps its dead letter from <topic>.dlq and gets it again once when replayed', async () => {
  // Named as test/support/broker-leftovers.ts knows Kafka test topics, so a run's cleanup deletes them.
  const bus = kafka;
  const topic = `kafka-test.${uniqueSuffix()}.dead-letters`;
  await bus.declare([{ topic, groups: ['svc'] }]);
  let failing = true;
  const handled: IncomingMessage[] = [];
  await bus.subscribe({
    group: 'svc',
    topics: [topic],
    handler: (m) =>
      failing
        ? Promise.reject(new ConcordError('CONCORD_TEST_REFUSED', 'not now'))
        : Promise.resolve(void handled.push(m)),
  });
  module = createDeadLettersModule({
    db: database.db,
    bus,
    logger: silentLogger,
    consumers: [{ group: 'svc', topic }],
  });
  await module.start();
  await bus.publish(topic, [message('m1', 'k1')]);

  const store = createBusDeadLetterStore();
  const kept = await waitFor(
    'the dead letter kept',
    async () => {
      const page = await store.list(database.db, ['svc'], { limit: 10 });
      return page.deadLetters[0];
    },
    60_000,
  );
  expect(kept).toMatchObject({
    group: 'svc',
    messageId: 'm1',
    topic,
    key: 'k1',
    errorCode: 'CONCORD_TEST_REFUSED',
  });

  failing = false;
  expect(await store.replay(database.db, ['svc'], [kept.id])).toEqual({ replayed: [kept.id], missing: [] });
  relay = createRelay({ db: database.db, bus, pollIntervalMs: 100 });
  relay.start();
  await waitFor('m1 handled', () => handled.some((m) => m.id === 'm1'), 60_000);
  // The relay has nothing left to publish: the replay went out, and nothing else will.
  await waitFor('the outbox published', async () => {
    const { rows } = await database.db.query<{ pending: string }>(
      `SELECT b.pending::text AS pending FROM concord.outbox_backlog() b`,
    );
    return rows[0]?.pending === '0';
  });
  expect(handled.filter((m) => m.id === 'm1')).toHaveLength(1);
  expect((await store.list(database.db, ['svc'], { limit: 10 })).deadLetters).toEqual([]);
});
