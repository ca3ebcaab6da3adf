import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { cleanUpBrokers } from '../support/broker-cleanup.js';
import { TEST_OBJECTS } from '../support/broker-leftovers.js';
import { deployServices } from './support/deployed/build.js';
import type { Deployed } from './support/deployed/build.js';
import { runChaos, runRepro } from './support/deployed/runs.js';
import type { WorkloadShape } from './support/deployed/workload.js';

/*
 * Issue 15: the services as users deploy them — `pnpm deploy`ed directories started with plain `node`
 * — over RabbitMQ and over Kafka. The chaos run restarts the shared brokers and Postgres: the e2e tier
 * runs its files one at a time after every other tier (vitest.config.ts), so no other test sees that.
 * Service logs: .cache/e2e-logs/deployed-<repro|chaos>-<broker>-<run>-<instance>.log.
 */

const deps = () => ({
  DATABASE_URL: inject('DATABASE_URL'),
  AMQP_URL: inject('AMQP_URL'),
  KAFKA_BROKERS: inject('KAFKA_BROKERS'),
  REDIS_URL: inject('REDIS_URL'),
});

/**
 * 100 writers × 3 rounds × 6 events (+ 10 shared tasks, + the 30-event prelude) over about 40 s:
 * 1,840 events, ~45/s, so that one broker's chaos run takes 2–3 minutes on a quiet 2-core machine.
 */
const SHAPE: WorkloadShape = { writers: 100, rounds: 3, hot: 10, streamMs: 40_000 };
const SEED = Number(process.env['CONCORD_E2E_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

let deployed: Deployed | undefined;
const artifacts = (): Deployed => {
  if (deployed === undefined) throw new Error('the services were not deployed');
  return deployed;
};

/**
 * The chaos runs restart the brokers: the queues and topics other test files left (deleted only at the
 * end of the run) would make each restart recover them all first, and the runs' own would keep a restarted
 * RabbitMQ busy recovering them while the next files start their services — on a small machine, minutes.
 */
const cleanUp = (when: string, settleMs = 0) =>
  cleanUpBrokers({
    amqpUrl: inject('AMQP_URL'),
    kafkaBrokers: inject('KAFKA_BROKERS'),
    select: TEST_OBJECTS,
    settleMs,
    log: (line) => console.info(`broker cleanup ${when} the deployed runs: ${line}`),
  });

beforeAll(async () => {
  await cleanUp('before');
  deployed = await deployServices();
  console.info(`services built and deployed from ${deployed.source} in ${deployed.buildMs} ms`);
}, 300_000);

afterAll(async () => {
  deployed?.remove();
  // Their processes have stopped; the broker drops their consumers a moment later.
  await cleanUp('after', 5_000);
}, 60_000);

describe.each(['rabbitmq', 'kafka'] as const)('the deployed services over %s', (broker) => {
  test('ingest started alone, 20 pairs of conflicting edits, consumers 3 s later: every conflict resolved and projected', async () => {
    const report = await runRepro({
      broker,
      deps: deps(),
      deployed: artifacts(),
      pairs: 20,
      settleMs: 30_000,
    });
    console.info(`deployed-repro ${JSON.stringify({ broker, ...report })}`);
    expect(report.conflicts, 'conflicts among the edits').toBe(20);
    expect(report.resolved, 'conflicts resolved').toBe(20);
    expect(report.projected, 'tasks projected at version 3 with both tags').toBe(20);
    expect(report.check).toMatchObject({
      lost: 0,
      withoutFinalOutcome: 0,
      unprojected: 0,
      appliedTwice: 0,
      reorders: { feed: 0 },
    });
  }, 120_000);

  test('two instances of each, 100 writers, an instance of each killed, the broker restarted twice and Postgres once: nothing lost, nothing twice, nothing reordered', async () => {
    const report = await runChaos({
      broker,
      deps: deps(),
      deployed: artifacts(),
      shape: SHAPE,
      seed: SEED,
      settleMs: 90_000,
    });
    console.info(`deployed-chaos ${JSON.stringify(report)}`);
    expect({
      lost: report.lost,
      withoutFinalOutcome: report.withoutFinalOutcome,
      unprojected: report.unprojected,
      appliedTwice: report.appliedTwice,
      deliveredTwice: report.deliveredTwice,
      notificationsMissing: report.notificationsMissing,
      reorders: report.reorders,
      unanswered: report.unanswered,
      rejectedAtSubmit: report.rejectedAtSubmit,
    }).toEqual({
      lost: 0,
      withoutFinalOutcome: 0,
      unprojected: 0,
      appliedTwice: 0,
      deliveredTwice: 0,
      notificationsMissing: 0,
      reorders: { feed: 0, notifications: 0 },
      unanswered: 0,
      rejectedAtSubmit: 0,
    });
    expect(report.accepted).toBe(report.submitted);
    expect(report.uncleanExits).toEqual([]);
    // Several instances share a consumer group's work (partitions on Kafka, shards on RabbitMQ): each
    // instance of each consumer service handled messages.
    const idle = Object.entries(report.handled).filter(([, count]) => count === 0);
    expect(idle, `instances that handled nothing: ${JSON.stringify(report.handled)}`).toEqual([]);
    expect(Object.keys(report.handled)).toHaveLength(6);
  }, 360_000);
});
