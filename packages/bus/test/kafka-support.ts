import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { BusContractOptions } from '@concord/bus/testing';
import { dlqTopic } from '../src/port.js';
import { createKafkaBus, KAFKA_FEATURES } from '../src/kafka/index.js';

const run = promisify(execFile);
const kafkaScript = new URL('../../../infra/kafka.sh', import.meta.url).pathname;

/** A plain kafkajs admin for test set-up and clean-up. */
export const testAdmin = async (brokers: string) => {
  const admin = new Kafka({
    clientId: 'concord-test-admin',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  return admin;
};

/** Deletes topics (and their dead-letter topics) a test created. */
export const deleteTopics = async (brokers: string, topics: readonly string[]): Promise<void> => {
  if (topics.length === 0) return;
  const admin = await testAdmin(brokers);
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics
      .flatMap((topic) => [topic, dlqTopic(topic), dlqTopic(dlqTopic(topic))])
      .filter((topic) => existing.has(topic));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  } finally {
    await admin.disconnect();
  }
};

/** Contract options for Kafka at `brokers`: three partitions per topic, topics deleted after each test. */
export const kafkaContract = (brokers: string): BusContractOptions => ({
  name: 'kafka',
  features: KAFKA_FEATURES,
  create: ({ maxMessageBytes, drainTimeoutMs }) =>
    createKafkaBus({ brokers, clientId: 'concord-contract', partitions: 3, maxMessageBytes, drainTimeoutMs }),
  cleanup: ({ topics }) => deleteTopics(brokers, topics),
});

/**
 * Kills the loopback broker of `infra/kafka.sh` with SIGKILL and starts it again (recovering its logs);
 * resolves once it accepts connections. Fails, with what to do, when that broker is not the one in use.
 */
export const restartKafka = async (): Promise<void> => {
  const status = await run('bash', [kafkaScript, 'status']).catch((error: unknown) => ({
    stdout: String(error),
  }));
  if (!status.stdout.includes('kafka: up')) {
    throw new Error(
      `The chaos test restarts the broker of infra/kafka.sh, which is not running (${status.stdout.trim()}). ` +
        'Start it with `bash infra/kafka.sh start` and point KAFKA_BROKERS at 127.0.0.1:9092.',
    );
  }
  await run('bash', [kafkaScript, 'kill']);
  await run('bash', [kafkaScript, 'start'], { timeout: 180_000 });
};
