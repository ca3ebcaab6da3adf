/**
 * `concord publish --broker rabbitmq|kafka`: events go to the submit topic of an all-in-one running on
 * that broker and Postgres (names in the e2e stacks' pattern, so the suite's broker cleanup removes
 * them), and `--wait` reads their outcomes back over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ServiceProcess, freePort } from '../../../test/e2e/support/processes.js';
import { SCENARIO_POLICY } from '../../../test/e2e/support/stack.js';
import { concord, jsonLines } from './support.js';

describe.each(['rabbitmq', 'kafka'] as const)('publish --broker %s', (broker) => {
  const run = randomUUID().replaceAll('-', '').slice(0, 8);
  const prefix = `e2e-${run}.`;
  const exchange = `concord-e2e-${run}`;
  let database: TestDatabase;
  let service: ServiceProcess;

  /** The broker's address as the services and the CLI read it. */
  const address = (): Record<string, string> =>
    broker === 'rabbitmq'
      ? { AMQP_URL: inject('AMQP_URL'), AMQP_EXCHANGE: exchange }
      : { KAFKA_BROKERS: inject('KAFKA_BROKERS') };
  const brokerEnv = () => ({ CONCORD_URL: service.url, CONCORD_TOPIC_PREFIX: prefix, ...address() });

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false, max: 1 });
    service = new ServiceProcess({
      service: 'all-in-one',
      label: `cli-${broker}-${run}`,
      port: await freePort(),
      env: {
        DATABASE_URL: database.url ?? '',
        DATABASE_POOL_SIZE: '5',
        BROKER: broker,
        ...address(),
        CONCORD_TOPIC_PREFIX: prefix,
        CONCORD_POLICY: SCENARIO_POLICY,
        SHUTDOWN_GRACE_MS: '5000',
      },
    });
    await service.start();
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await database?.close();
  });

  it('publishes to the submit topic and, with --wait, reports every outcome (exit 1 for a rejection)', async () => {
    const events = [
      {
        id: `b1-${run}`,
        type: 'TaskCreated',
        aggregateType: 'task',
        aggregateId: `bt-${run}`,
        data: { title: 'a' },
      },
      {
        id: `b2-${run}`,
        type: 'TaskUpdated',
        aggregateType: 'task',
        aggregateId: `bt-${run}`,
        baseVersion: 1,
        data: { title: 'b' },
      },
      {
        id: `b3-${run}`,
        type: 'TaskCreated',
        aggregateType: 'task',
        aggregateId: `bu-${run}`,
        data: { title: 'c' },
      },
      { id: `b4-${run}`, type: 'TaskCreated', aggregateType: 'task', data: { title: 'no aggregate id' } },
    ];
    const result = await concord(['publish', '--broker', broker, '--wait', '--json'], {
      env: brokerEnv(),
      input: events.map((event) => JSON.stringify(event)).join('\n'),
    });
    expect(result.code).toBe(1);
    const [summary] = jsonLines(result.stdout);
    expect(summary).toMatchObject({ via: broker, total: 4, sent: 4 });
    expect(summary.outcomes).toEqual({ applied: 3, rejected: 1 });
    expect(summary.rejected).toEqual([expect.objectContaining({ id: `b4-${run}` })]);
    const stored = await concord(['events', 'get', `b2-${run}`, '--json'], { env: brokerEnv() });
    expect(jsonLines(stored.stdout)[0]).toMatchObject({ outcome: 'applied', version: 2 });
  });

  it('without --wait, counts what it published; publishing an event again changes nothing', async () => {
    const event = {
      id: `b1-${run}`,
      type: 'TaskCreated',
      aggregateType: 'task',
      aggregateId: `bt-${run}`,
      data: { title: 'a' },
    };
    const published = await concord(['publish', '--broker', broker], {
      env: brokerEnv(),
      input: JSON.stringify(event),
    });
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(new RegExp(`^1/1 events published to ${broker} in `));
    const again = await concord(['publish', '--broker', broker, '--wait', '--json'], {
      env: brokerEnv(),
      input: JSON.stringify(event),
    });
    expect(again.code).toBe(0);
    expect(jsonLines(again.stdout)[0].outcomes).toEqual({ applied: 1 });
  });
});

describe('publish --broker: addresses', () => {
  it('a broker nobody listens on is exit 3; a missing address is a usage error', async () => {
    const port = await freePort();
    const down = await concord(
      ['publish', '--broker', 'rabbitmq', '--broker-url', `amqp://guest:guest@127.0.0.1:${port}`],
      {
        input: '{"id":"x","type":"T","aggregateType":"task","aggregateId":"t","data":{}}',
      },
    );
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach rabbitmq');
    const usage = await concord(['publish', '--broker', 'kafka'], { input: '{}' });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('KAFKA_BROKERS');
  });
});
