import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { ConsumerLagProbe, GroupLag, GroupTopic } from './types.js';

export interface KafkaLagOptions {
  /** Bootstrap brokers: `['host:9092', …]` or the `KAFKA_BROKERS` form `host:9092,host2:9092`. */
  readonly brokers: readonly string[] | string;
  readonly clientId?: string;
  /** The deployment's topic prefix (`CONCORD_TOPIC_PREFIX`), as `namespacedBus` adds it. */
  readonly prefix?: string;
  readonly consumers: readonly GroupTopic[];
}

/**
 * Kafka: for each group and topic, the sum over partitions of the log end offset minus the group's
 * committed offset (a partition the group has not committed yet counts from the log start). Offsets
 * come from the admin API on a client of the probe's own; a topic that does not exist (yet) counts 0.
 */
export const kafkaLagProbe = (options: KafkaLagOptions): ConsumerLagProbe => {
  const prefix = options.prefix ?? '';
  const brokers = (typeof options.brokers === 'string' ? options.brokers.split(',') : options.brokers)
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const kafka = new Kafka({
    clientId: options.clientId ?? 'concord-lag-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  let admin: Promise<Admin> | undefined;
  let closed = false;
  const connected = (): Promise<Admin> => {
    admin ??= (async () => {
      const client = kafka.admin();
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  };
  const lagOf = async (client: Admin, consumer: GroupTopic, topics: ReadonlySet<string>): Promise<number> => {
    const topic = `${prefix}${consumer.topic}`;
    // Only topics that exist: asking the offsets of another could have the broker create it.
    if (!topics.has(topic)) return 0;
    const ends = await client.fetchTopicOffsets(topic);
    const [committed] = await client.fetchOffsets({ groupId: `${prefix}${consumer.group}`, topics: [topic] });
    const position = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
    let lag = 0;
    for (const end of ends) {
      const at = position.get(end.partition) ?? -1;
      lag += Math.max(0, Number(end.high) - (at >= 0 ? at : Number(end.low)));
    }
    return lag;
  };
  return {
    async lag(): Promise<GroupLag[]> {
      if (closed) return [];
      const client = await connected();
      const topics = new Set(await client.listTopics());
      return Promise.all(
        options.consumers.map(async (consumer) => ({
          ...consumer,
          messages: await lagOf(client, consumer, topics),
        })),
      );
    },
    async close(): Promise<void> {
      closed = true;
      const client = admin;
      admin = undefined;
      await client?.then((c) => c.disconnect()).catch(() => undefined);
    },
  };
};
