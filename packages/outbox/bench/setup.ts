import { createKafkaBus, createRabbitMqBus, groupQueues } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { connect } from 'amqplib';

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export type Broker = 'rabbitmq' | 'kafka';

export interface BenchArgs {
  readonly broker: Broker;
  readonly events: number;
  readonly messages: number;
  readonly workers: number;
  /** Alternating measured rounds per comparison (after a warm-up); the median is reported. */
  readonly rounds: number;
  /** Also time the plain client with the relay's reads beside it (bench/relay.ts). */
  readonly breakdown: boolean;
}

/**
 * Parses `--broker rabbitmq|kafka [--events n] [--messages n] [--workers n] [--rounds n] [--breakdown]`;
 * a leading `--` is ignored.
 */
export const parseArgs = (argv: readonly string[]): BenchArgs => {
  const args = argv.filter((arg) => arg !== '--');
  const value = (name: string) => {
    const index = args.indexOf(`--${name}`);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const broker = value('broker') ?? 'rabbitmq';
  if (broker !== 'rabbitmq' && broker !== 'kafka')
    throw new Error(`--broker must be rabbitmq or kafka, not ${broker}`);
  return {
    broker,
    events: Number(value('events') ?? 40_000),
    messages: Number(value('messages') ?? 50_000),
    workers: Number(value('workers') ?? 4),
    rounds: Math.max(1, Number(value('rounds') ?? 5)),
    breakdown: args.includes('--breakdown'),
  };
};

export const createBrokerBus = async (broker: Broker, suffix: string): Promise<MessageBus> =>
  broker === 'rabbitmq'
    ? createRabbitMqBus({
        url: amqpUrl,
        exchange: `concord.bench.${suffix}`,
      })
    : createKafkaBus({
        brokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
        clientId: `concord-bench-${suffix}`,
      });

/**
 * A RabbitMQ consumer group taking `topic`'s messages with a no-op handler; `close()` also deletes its
 * queues (the group's and its dead-letter queue).
 */
export const drainingReader = async (bus: MessageBus, topic: string, suffix: string) => {
  const group = `bench-${suffix}`;
  const subscription = await bus.subscribe({
    group,
    topics: [topic],
    concurrency: 64,
    handler: () => Promise.resolve(),
  });
  return {
    async close() {
      await subscription.close();
      const connection = await connect(amqpUrl);
      try {
        const channel = await connection.createChannel();
        for (const queued of [topic, `${topic}.dlq`]) {
          for (const queue of groupQueues(group, queued)) await channel.deleteQueue(queue);
        }
      } finally {
        await connection.close();
      }
    },
  };
};

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

export const round = (n: number): number => Math.round(n * 10) / 10;
