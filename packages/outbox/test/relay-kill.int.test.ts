import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRabbitMqBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createOutbox } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { sequenceConsumer } from './support/consumer.js';
import { unique, waitFor, writeMessages } from './helpers.js';

const TOTAL = 20_000;
const fixture = new URL('./fixtures/relay-process.ts', import.meta.url).pathname;

let t: TestDatabase;
let bus: MessageBus;
const exchange = `concord.test.${unique()}`;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), max: 20 });
  bus = await createRabbitMqBus({ url: inject('AMQP_URL'), exchange });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await bus.close();
  await t.close();
});

const startRelay = async (): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fixture], {
    env: { ...process.env, DATABASE_URL: t.url, AMQP_URL: inject('AMQP_URL'), EXCHANGE: exchange },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`relay process exited early (${code})`)));
  });
  return child;
};

const kill = async (child: ChildProcess) => {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
};

it('loses nothing when the relay process is SIGKILLed mid-batch three times while 20,000 messages flow', async () => {
  const topic = `t.${unique()}`;
  const consumer = await sequenceConsumer({ db: t.db, bus, topic, group: `g.${unique()}` });
  const writing = writeMessages({
    db: t.db,
    outbox: createOutbox(),
    topic,
    count: TOTAL,
    keys: 200,
    perTx: 50,
  });
  let relay = await startRelay();
  for (const threshold of [2_000, 7_000, 12_000]) {
    await waitFor(`${threshold} handled`, () => consumer.counters.handled >= threshold, 120_000);
    await kill(relay);
    relay = await startRelay();
  }
  await writing;
  await waitFor('every message handled once', () => consumer.counters.handled >= TOTAL, 180_000);
  await consumer.subscription.close();
  relay.kill('SIGTERM');
  console.log(
    `relay-kill: handled ${consumer.counters.handled}, duplicates absorbed ${consumer.counters.duplicates}`,
  );
  expect(consumer.counters.violations).toEqual([]);
  expect(consumer.counters.handled).toBe(TOTAL);
  expect(await consumer.applied()).toBe(TOTAL);
  const { rows } = await t.db.query<{ n: number }>('SELECT pending AS n FROM concord.outbox_backlog()');
  expect(rows[0]?.n).toBe(0);
}, 300_000);
