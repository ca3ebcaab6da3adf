import type { Logger } from '@concord/core';
import { PartitionAssigners } from 'kafkajs';
import type { Consumer, Kafka } from 'kafkajs';
import { ConsumerPipeline } from '../consumer/pipeline.js';
import type { DeadLetterCause } from '../consumer/dead-letter.js';
import { busUnavailableError } from '../errors.js';
import type { IncomingMessage, SubscribeOptions, Subscription } from '../port.js';
import { settlesWithin, sleep } from '../timers.js';
import { busyStickyAssigner } from './assigner.js';
import { OffsetCommitter } from './committer.js';
import { BatchIntake } from './intake.js';
import type { ResolvedKafkaOptions } from './options.js';

export interface KafkaSubscriptionOptions {
  readonly kafka: Kafka;
  readonly bus: ResolvedKafkaOptions;
  readonly subscribe: SubscribeOptions;
  /** Publishes a dead letter and resolves once the broker confirmed it. */
  readonly deadLetter: (message: IncomingMessage, cause: DeadLetterCause) => Promise<void>;
  /** Called once the subscription has closed. */
  readonly onClosed: () => void;
}

/** How long close() waits, after the drain, for the final commit. */
const COMMIT_GRACE_MS = 5_000;
const COMMIT_RETRY_MS = 1_000;
/** How long a partition over its in-flight limit may hold the fetch loop before it is paused instead. */
const STALL_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * One consumer group member: a kafkajs consumer (auto-commit off, `eachBatch`, partitions fetched
 * concurrently) whose records a {@link BatchIntake} hands to a {@link ConsumerPipeline}, and whose
 * offsets an {@link OffsetCommitter} commits once handled. A rebalance leaves a partition with the
 * member still running handlers of its records ({@link busyStickyAssigner}), so no other member can
 * handle the records behind them and commit past them meanwhile. kafkajs restarts its consumer after
 * retriable failures by itself; when it gives up (a crash it will not restart from), this subscription
 * replaces the consumer with a new one, backing off, until it is closed.
 */
export class KafkaSubscription implements Subscription {
  readonly #options: KafkaSubscriptionOptions;
  readonly #logger: Logger;
  readonly #pipeline: ConsumerPipeline;
  readonly #closing = new AbortController();
  readonly #intake: BatchIntake;
  readonly #committer: OffsetCommitter;
  #consumer: Consumer | undefined;
  #closed: Promise<void> | undefined;
  #restarts = 0;

  constructor(options: KafkaSubscriptionOptions) {
    this.#options = options;
    const { bus, subscribe } = options;
    this.#logger = bus.logger.child({ group: subscribe.group, topics: subscribe.topics });
    this.#pipeline = new ConsumerPipeline({
      group: subscribe.group,
      handler: subscribe.handler,
      deadLetter: options.deadLetter,
      logger: this.#logger,
      concurrency: subscribe.concurrency ?? bus.concurrency,
      retry: subscribe.retry ?? bus.retry,
      timers: bus.timers,
      random: bus.random,
      system: 'kafka',
      ...(bus.observer === undefined ? {} : { observer: bus.observer }),
    });
    this.#committer = new OffsetCommitter({
      consumer: () => this.#consumer,
      trackers: () => this.#intake.trackers(),
      logger: this.#logger,
      timers: bus.timers,
      intervalMs: bus.commitIntervalMs,
      retryDelayMs: COMMIT_RETRY_MS,
    });
    this.#intake = new BatchIntake({
      pipeline: this.#pipeline,
      committer: this.#committer,
      maxPendingPerPartition: bus.maxPendingPerPartition,
      stallMs: STALL_MS,
      timers: bus.timers,
      closing: this.#closing.signal,
      seek: (position) => this.#consumer?.seek(position),
      // Both waits of a revoke (handlers, then the commit) stay within the session timeout together.
      revokeTimeoutMs: Math.min(bus.drainTimeoutMs, Math.floor(bus.sessionTimeoutMs / 3)),
    });
  }

  /** Starts consuming; resolves once the consumer joined its group. */
  async start(): Promise<void> {
    const { joinTimeoutMs, timers } = this.#options.bus;
    const { group } = this.#options.subscribe;
    let failure: { error: unknown } | undefined;
    const joined = this.#startConsumer().catch((error: unknown) => {
      failure = { error };
    });
    if (!(await settlesWithin(timers, joined, joinTimeoutMs))) {
      await this.close();
      throw busUnavailableError(`Kafka consumer group ${group} did not join within ${joinTimeoutMs} ms`);
    }
    if (failure !== undefined) {
      await this.close();
      throw busUnavailableError(`Kafka consumer group ${group} could not start`, failure.error);
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    const { bus, subscribe, onClosed } = this.#options;
    this.#closing.abort();
    const consumer = this.#consumer;
    try {
      consumer?.pause(subscribe.topics.map((topic) => ({ topic })));
    } catch {
      // Not running yet: nothing to pause.
    }
    await this.#pipeline.close(bus.drainTimeoutMs);
    await settlesWithin(bus.timers, this.#committer.flush(), COMMIT_GRACE_MS);
    this.#committer.stop();
    await this.#disconnect(this.#consumer);
    onClosed();
  }

  /** Creates, connects and runs a consumer; resolves on its first group join. */
  async #startConsumer(): Promise<void> {
    const { kafka, bus, subscribe } = this.#options;
    const consumer = kafka.consumer({
      groupId: subscribe.group,
      sessionTimeout: bus.sessionTimeoutMs,
      heartbeatInterval: bus.heartbeatIntervalMs,
      maxWaitTimeInMs: bus.maxWaitTimeMs,
      maxBytesPerPartition: bus.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      // Round robin second: a group whose members do not all offer ours (a rolling deploy) uses it.
      partitionAssigners: [busyStickyAssigner(() => this.#intake.busy()), PartitionAssigners.roundRobin],
      retry: {
        initialRetryTime: 300,
        maxRetryTime: 5_000,
        retries: 10,
        restartOnFailure: () => Promise.resolve(true),
      },
    });
    this.#consumer = consumer;
    const joined = new Promise<void>((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        this.#intake.newGeneration();
        this.#restarts = 0;
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) void this.#replace(consumer, payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...subscribe.topics], fromBeginning: bus.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: subscribe.concurrency ?? bus.concurrency,
      eachBatch: (payload) => this.#intake.take(payload),
    });
    await joined;
  }

  /** Replaces a consumer that kafkajs gave up on, with growing delays, until one runs or we close. */
  async #replace(crashed: Consumer, error: unknown): Promise<void> {
    const { bus } = this.#options;
    if (this.#consumer !== crashed || this.#closing.signal.aborted) return;
    this.#restarts += 1;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** Math.min(this.#restarts, 10));
    this.#logger.error(
      { err: error, delay, restarts: this.#restarts },
      'kafka consumer crashed; replacing it',
    );
    await this.#disconnect(crashed);
    await sleep(bus.timers, delay, this.#closing.signal);
    if (this.#closing.signal.aborted) return;
    try {
      await this.#startConsumer();
    } catch (startError) {
      const current = this.#consumer;
      if (current !== undefined) await this.#replace(current, startError);
    }
  }

  async #disconnect(consumer: Consumer | undefined): Promise<void> {
    try {
      await consumer?.disconnect();
    } catch (error) {
      this.#logger.debug({ err: error }, 'kafka consumer disconnect failed');
    }
  }
}
