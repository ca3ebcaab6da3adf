import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRabbitMqBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import type { Relay } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { sequenceConsumer } from './support/consumer.js';
import { delay, unique, waitFor, writeMessages } from './helpers.js';

// Restarts shared services: runs in the serial chaos tier. Always brings the service back.
const rabbit = (command: 'stop_app' | 'start_app') =>
  execFileSync('rabbitmqctl', [command], { stdio: 'ignore' });
const restartPostgres = () => {
  const version = readdirSync('/etc/postgresql')[0] ?? '';
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
    stdio: 'ignore',
  });
};

const TOTAL = 6_000;
let t: TestDatabase;
let bus: MessageBus;
const relays: Relay[] = [];

beforeAll(async () => {
  t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), max: 20 });
  bus = await createRabbitMqBus({
    url: inject('AMQP_URL'),
    exchange: `concord.test.${unique()}`,
    // Publishes fail (retryably) after 3 s without a confirm, so the relay's backoff takes over.
    publishTimeoutMs: 3_000,
  });
});
afterAll(async () => {
  for (const relay of relays) await relay.close();
  await bus.close();
  await t.close();
});

const startRelay = () => {
  const relay = createRelay({
    db: t.db,
    bus,
    batchSize: 200,
    leaseTtlMs: 3000,
    pollIntervalMs: 200,
    maxAttempts: 3,
    backoff: { initialDelayMs: 100, maxDelayMs: 2000 },
  });
  relays.push(relay);
  relay.start();
  return relay;
};

describe('relay chaos', () => {
  it('backs off while RabbitMQ is stopped and resumes with no loss', async () => {
    const topic = `t.${unique()}`;
    const consumer = await sequenceConsumer({ db: t.db, bus, topic, group: `g.${unique()}` });
    await writeMessages({ db: t.db, outbox: createOutbox(), topic, count: TOTAL / 2, keys: 100 });
    const r = startRelay();
    await waitFor('some handled', () => consumer.counters.handled >= 500, 60_000);
    rabbit('stop_app');
    try {
      // Rows committed while the broker is away (the first half may all be published by now).
      await writeMessages({
        db: t.db,
        outbox: createOutbox(),
        topic,
        count: TOTAL / 2,
        keys: 100,
        keyPrefix: 'late',
      });
      await waitFor('outage noticed', async () => (await r.stats()).brokerOutage, 30_000);
      await delay(3_000);
    } finally {
      rabbit('start_app');
    }
    await waitFor('all handled', () => consumer.counters.handled >= TOTAL, 180_000);
    await consumer.subscription.close();
    const stats = await r.stats();
    console.log(`broker stop: duplicates absorbed ${consumer.counters.duplicates}`, stats);
    expect(consumer.counters.violations).toEqual([]);
    expect(consumer.counters.handled).toBe(TOTAL);
    expect(stats.deadLetterRows).toBe(0);
    expect(stats.pending).toBe(0);
  });

  it('recovers without loss when Postgres restarts mid-relay', async () => {
    const topic = `t.${unique()}`;
    const consumer = await sequenceConsumer({
      db: t.db,
      bus,
      topic,
      group: `g.${unique()}`,
      maxAttempts: 100,
    });
    await writeMessages({ db: t.db, outbox: createOutbox(), topic, count: TOTAL, keys: 100 });
    const r = startRelay();
    await waitFor('some handled', () => consumer.counters.handled >= 500, 60_000);
    restartPostgres();
    await waitFor('all handled', () => consumer.counters.handled >= TOTAL, 180_000);
    await consumer.subscription.close();
    await waitFor('all marked', async () => (await r.stats()).pending === 0, 60_000);
    console.log(`postgres restart: duplicates absorbed ${consumer.counters.duplicates}`);
    expect(consumer.counters.violations).toEqual([]);
    expect(consumer.counters.handled).toBe(TOTAL);
    expect(await consumer.applied()).toBe(TOTAL);
    expect((await r.stats()).deadLetterRows).toBe(0);
  });
});
