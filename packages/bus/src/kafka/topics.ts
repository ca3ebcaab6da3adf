import type { Logger } from '@concord/core';
import type { Admin, Kafka } from 'kafkajs';
import { busUnavailableError } from '../errors.js';
import { dlqTopic } from '../port.js';
import { sleep } from '../timers.js';
import type { Timers } from '../timers.js';

export interface TopicAdminOptions {
  readonly kafka: Kafka;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly logger: Logger;
  readonly timers: Timers;
  /** How long to wait for new topics' partitions to get leaders. */
  readonly leaderTimeoutMs: number;
}

/**
 * Creates topics through the admin client when declared (`MessageBus.declare`, DESIGN §4's table) or on
 * first use: every `<topic>` together with its `<topic>.dlq`, with the configured partitions. Topics
 * that exist already are left as they are. Each topic is ensured once per bus; a failed attempt is
 * forgotten so the next use tries again.
 */
export class TopicAdmin {
  readonly #options: TopicAdminOptions;
  readonly #ensured = new Map<string, Promise<void>>();
  #admin: Promise<Admin> | undefined;

  constructor(options: TopicAdminOptions) {
    this.#options = options;
  }

  /** Resolves once `topics` and their dead-letter topics exist. */
  ensure(topics: readonly string[]): Promise<void> {
    return Promise.all(topics.map((topic) => this.#ensureOne(topic))).then(() => undefined);
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin !== undefined) await (await admin.catch(() => undefined))?.disconnect();
  }

  #ensureOne(topic: string): Promise<void> {
    let ensured = this.#ensured.get(topic);
    if (ensured === undefined) {
      ensured = this.#create(topic.endsWith('.dlq') ? [topic] : [topic, dlqTopic(topic)]);
      ensured.catch(() => this.#ensured.delete(topic));
      this.#ensured.set(topic, ensured);
    }
    return ensured;
  }

  async #create(topics: readonly string[]): Promise<void> {
    const { partitions, replicationFactor, logger } = this.#options;
    try {
      const admin = await this.#connect();
      const created = await admin.createTopics({
        topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
        waitForLeaders: false,
      });
      if (created) logger.info({ topics, partitions }, 'kafka topics created');
      await this.#awaitLeaders(admin, topics);
    } catch (error) {
      throw busUnavailableError(`Could not create Kafka topics ${topics.join(', ')}`, error);
    }
  }

  /**
   * Waits until every partition of `topics` has a leader. kafkajs's own `waitForLeaders` polls with its
   * retry backoff (100 ms and up); a new topic usually has leaders within milliseconds, so poll briskly.
   */
  async #awaitLeaders(admin: Admin, topics: readonly string[]): Promise<void> {
    const { timers, leaderTimeoutMs } = this.#options;
    const deadline = performance.now() + leaderTimeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 500)) {
      if (await this.#haveLeaders(admin, topics)) return;
      if (performance.now() > deadline) {
        throw new Error(`No leaders for ${topics.join(', ')} after ${leaderTimeoutMs} ms`);
      }
      await sleep(timers, delay);
    }
  }

  /** False while the broker does not know the topics yet (a retriable error) or a partition has no leader. */
  async #haveLeaders(admin: Admin, topics: readonly string[]): Promise<boolean> {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      return metadata.topics.every(
        (topic) =>
          topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
      );
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable === true) return false;
      throw error;
    }
  }

  #connect(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = this.#options.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      connecting.catch(() => {
        if (this.#admin === connecting) this.#admin = undefined;
      });
      this.#admin = connecting;
    }
    return this.#admin;
  }
}
