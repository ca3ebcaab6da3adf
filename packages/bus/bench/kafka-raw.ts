/**
 * The raw-kafkajs baseline of `pnpm bench:bus -- --broker kafka`: the same work as the adapter benchmark
 * done with a plain kafkajs producer and consumer, so the adapter's overhead shows as a ratio.
 *
 * Publish: an idempotent producer with `acks=all` sends `messages` messages of `size` bytes in sequential
 * batches of `batchSize` (each awaited, like `bus.publish`), keys spread over 100 keys, `traceparent`
 * and `message-id` headers on each. Consume: a new consumer group reads them all from the beginning with `eachBatch`,
 * hands each message — key and `message-id` decoded, as a handler needs them — to a counting handler,
 * resolves its offset, and commits after each batch (kafkajs auto-commit). Rates are messages per second;
 * consuming is timed from the first message to the last, so group join time is not counted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { dlqTopic } from '@concord/bus';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { benchGroup } from './adapter.js';

export interface KafkaRawOptions {
  /** `host:port[,host:port]`. */
  readonly brokers: string;
  readonly messages: number;
  /** Payload bytes per message. */
  readonly size: number;
  /** Messages per publish call. */
  readonly batchSize: number;
  /** Partitions of the benchmark topic. Default 3 (the adapter's default). */
  readonly partitions?: number;
  /** Give up consuming after this long. Default 120 s. */
  readonly timeoutMs?: number;
}

export interface KafkaRawResult {
  readonly rawPublishPerSec: number;
  readonly rawConsumePerSec: number;
}

const KEYS = 100;
/** The bus benchmark's messages carry one, so these do too. */
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export const runKafkaRaw = async (options: KafkaRawOptions): Promise<KafkaRawResult> => {
  const kafka = new Kafka({
    clientId: 'concord-bench-raw',
    brokers: options.brokers.split(','),
    logLevel: logLevel.ERROR,
  });
  const topic = `bench.raw.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: options.partitions ?? 3 }],
      waitForLeaders: true,
    });
    const rawPublishPerSec = await publish(kafka, topic, options);
    const rawConsumePerSec = await consume(kafka, topic, options);
    return { rawPublishPerSec, rawConsumePerSec };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([`${topic}.consumer`]).catch(() => undefined);
    await admin.disconnect();
  }
};

/** Deletes the topics the adapter rounds used (with the dead-letter topics it created) and their groups. */
export const deleteKafkaBenchTopics = async (brokers: readonly string[], topics: readonly string[]) => {
  const admin = new Kafka({
    clientId: 'concord-bench-cleanup',
    brokers: [...brokers],
    logLevel: logLevel.ERROR,
  }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics.flatMap((topic) => [topic, dlqTopic(topic)]).filter((topic) => existing.has(topic));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
    await admin.deleteGroups(topics.map(benchGroup)).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
};

const publish = async (kafka: Kafka, topic: string, options: KafkaRawOptions): Promise<number> => {
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const payload = randomBytes(options.size);
    const began = performance.now();
    for (let start = 0; start < options.messages; start += options.batchSize) {
      const count = Math.min(options.batchSize, options.messages - start);
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: count }, (_, i) => ({
          key: `key-${(start + i) % KEYS}`,
          value: payload,
          headers: { traceparent: TRACEPARENT, 'message-id': randomUUID() },
        })),
      });
    }
    return options.messages / ((performance.now() - began) / 1000);
  } finally {
    await producer.disconnect();
  }
};

const consume = async (kafka: Kafka, topic: string, options: KafkaRawOptions): Promise<number> => {
  const consumer = kafka.consumer({ groupId: `${topic}.consumer`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let received = 0;
    const handle = (message: { id: string; key: string; payload: Buffer | null }): void => {
      if (message.id !== '') received += 1;
    };
    let first = 0;
    let last = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`raw consumer got ${received} of ${options.messages} messages in time`)),
        options.timeoutMs ?? 120_000,
      );
      void consumer.run({
        partitionsConsumedConcurrently: 3,
        eachBatch: (payload) => {
          if (first === 0) first = performance.now();
          for (const message of payload.batch.messages) {
            handle({
              id: message.headers?.['message-id']?.toString() ?? message.offset,
              key: message.key?.toString() ?? '',
              payload: message.value,
            });
            payload.resolveOffset(message.offset);
          }
          if (received >= options.messages) {
            last = performance.now();
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    await done;
    return (received - 1) / ((last - first) / 1000);
  } finally {
    await consumer.disconnect();
  }
};
