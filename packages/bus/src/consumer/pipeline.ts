import { backoffDelay, errorCode, isRetryable } from '@concord/core';
import type { Logger } from '@concord/core';
import type { IncomingMessage, MessageHandler, RetryOptions } from '../port.js';
import { realTimers, settlesWithin, sleep } from '../timers.js';
import type { Timers } from '../timers.js';
import { resolveRetry, retryBackoff } from './backoff.js';
import type { ResolvedRetry } from './backoff.js';
import type { DeadLetterCause } from './dead-letter.js';
import { KeyedDispatcher } from './keyed-dispatcher.js';
import type { ConsumerEvent, ConsumerObserver } from './observer.js';
import { consumeSpan } from './tracing.js';
import { isOutage } from './outage.js';

/** One message handed to a {@link ConsumerPipeline} by an adapter, with the adapter's callbacks. */
export interface Delivery {
  readonly message: IncomingMessage;
  /** Handled or dead-lettered: remove the message from its source (ack, commit). */
  settle(): void | Promise<void>;
  /** Not processed because the consumer is stopping: give it back so it is delivered again. */
  release(): void | Promise<void>;
  /** False once the delivery can no longer be settled (e.g. its channel died); it is then skipped. */
  isValid?(): boolean;
  /** Called once, when the message's first attempt is about to start (its key's turn came, it is valid). */
  started?(): void;
  /**
   * Aborted when the delivery is to stop early (its RabbitMQ shard is being handed to another member):
   * a backoff wait ends at once, and the message is then released since it is no longer valid.
   */
  readonly signal?: AbortSignal;
  /**
   * Failed attempts the adapter remembers for this message from earlier deliveries of it (a record
   * delivered again after a rebalance or a rewind); read when the first attempt starts. The first
   * attempt is numbered after them when that is more than `message.attempt` says.
   */
  failedBefore?(): number;
  /** An attempt failed: adapters that count attempts across deliveries remember it. */
  failed?(attempt: number): void;
}

export interface ConsumerPipelineOptions {
  readonly group: string;
  readonly handler: MessageHandler;
  /** Publishes the dead letter and resolves once the broker confirmed it. */
  readonly deadLetter: (message: IncomingMessage, cause: DeadLetterCause) => Promise<void>;
  readonly logger: Logger;
  /** Keys handled at once. Default 16. */
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
  readonly timers?: Timers;
  /** Uniform in [0, 1); used for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** `messaging.system` of the consumer spans (`rabbitmq`, `kafka`, `memory`). Default `concord`. */
  readonly system?: string;
  /** Told about every handled message, retry and dead letter (metrics). */
  readonly observer?: ConsumerObserver;
}

export type DeliveryOutcome = 'handled' | 'dead-lettered' | 'released';

export const DEFAULT_CONCURRENCY = 16;

/**
 * The consumer machinery every adapter shares: per-key ordered dispatch with bounded concurrency across
 * keys; on failure, retry in-process with exponential backoff and full jitter while holding the key's slot
 * (so later messages of the key stay behind it and per-key order holds), then dead-letter after
 * `maxAttempts` — or at once when the error says `retryable: false` — without blocking other keys;
 * `close()` stops taking work and drains in-flight handlers within a deadline.
 */
export class ConsumerPipeline {
  readonly #options: ConsumerPipelineOptions;
  readonly #retry: ResolvedRetry;
  readonly #dispatcher: KeyedDispatcher;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  #closing: Promise<boolean> | undefined;

  constructor(options: ConsumerPipelineOptions) {
    this.#options = options;
    this.#retry = resolveRetry(options.retry);
    this.#dispatcher = new KeyedDispatcher(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.#timers = options.timers ?? realTimers;
    this.#random = options.random ?? Math.random;
  }

  /** Deliveries accepted and not finished yet. Adapters use it for backpressure. */
  get pending(): number {
    return this.#dispatcher.pending;
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Queues a delivery behind earlier ones with the same key. After close it is released at once. */
  submit(delivery: Delivery, onDone?: (outcome: DeliveryOutcome) => void): void {
    this.#dispatcher.push(
      delivery.message.key,
      onDone === undefined ? () => this.#process(delivery) : () => this.#process(delivery).then(onDone),
    );
  }

  /**
   * Stops taking work: queued deliveries are released, backoff waits end (their messages are released),
   * running handlers may finish. Resolves `true` if everything drained within `deadlineMs`. Idempotent.
   */
  close(deadlineMs: number): Promise<boolean> {
    if (this.#closing === undefined) {
      this.#stop.abort();
      this.#closing = settlesWithin(this.#timers, this.#dispatcher.onIdle(), deadlineMs).then((drained) => {
        if (!drained) {
          this.#options.logger.warn(
            { group: this.#options.group, pending: this.#dispatcher.pending, deadlineMs },
            'consumer did not drain before the deadline',
          );
        }
        return drained;
      });
    }
    return this.#closing;
  }

  #live(delivery: Delivery): boolean {
    return !this.stopped && delivery.isValid?.() !== false;
  }

  async #process(delivery: Delivery): Promise<DeliveryOutcome> {
    const { handler, logger, group } = this.#options;
    let attempt = Math.max(delivery.message.attempt, (delivery.failedBefore?.() ?? 0) + 1);
    if (!this.#live(delivery)) return this.#release(delivery);
    delivery.started?.();
    // What ends a backoff wait early; combined only when a wait comes (most messages never wait).
    let combined: AbortSignal | undefined;
    const signal = (): AbortSignal =>
      delivery.signal === undefined
        ? this.#stop.signal
        : (combined ??= AbortSignal.any([this.#stop.signal, delivery.signal]));
    for (;;) {
      if (!this.#live(delivery)) return this.#release(delivery);
      const message =
        attempt === delivery.message.attempt ? delivery.message : { ...delivery.message, attempt };
      try {
        const started = performance.now();
        await consumeSpan({ system: this.#options.system ?? 'concord', group, message }, () =>
          handler(message),
        );
        const seconds = (performance.now() - started) / 1000;
        this.#observe({ kind: 'handled', group, topic: message.topic, seconds });
        const settling = this.#settle(delivery);
        if (settling !== undefined) await settling;
        return 'handled';
      } catch (error) {
        if (isOutage(error)) {
          // The database (or another dependency) is unreachable: wait at the longest backoff and try the
          // same attempt again, the key held; the message is not to blame.
          this.#observe({ kind: 'retry', group, topic: message.topic, attempt });
          logger.warn(
            { group, topic: message.topic, id: message.id, err: error },
            'handler cannot reach a dependency; retrying',
          );
          await sleep(
            this.#timers,
            backoffDelay(this.#retry.maxAttempts, retryBackoff(this.#retry), this.#random),
            signal(),
          );
          continue;
        }
        delivery.failed?.(attempt);
        if (!isRetryable(error) || attempt >= this.#retry.maxAttempts) {
          return this.#deadLetter(delivery, message, { error, attempts: attempt, group }, signal());
        }
        this.#observe({ kind: 'retry', group, topic: message.topic, attempt });
        const delay = backoffDelay(attempt, retryBackoff(this.#retry), this.#random);
        logger.debug(
          { group, topic: message.topic, id: message.id, attempt, delay, err: error },
          'handler failed; retrying after backoff',
        );
        await sleep(this.#timers, delay, signal());
        attempt += 1;
      }
    }
  }

  /**
   * Publishes the dead letter, and settles once the broker confirmed it. A failed publish is tried
   * again with backoff while the message keeps its key's slot: giving it back (a nack, a rewind) would
   * let the key's later messages, already delivered, go first. Only a stopping consumer or a dead
   * delivery gives it back, and then the key's later messages are given back behind it.
   */
  async #deadLetter(
    delivery: Delivery,
    message: IncomingMessage,
    cause: DeadLetterCause,
    signal: AbortSignal,
  ): Promise<DeliveryOutcome> {
    const { logger } = this.#options;
    for (let failures = 1; ; failures += 1) {
      try {
        await this.#options.deadLetter(message, cause);
        break;
      } catch (error) {
        const delay = backoffDelay(failures, retryBackoff(this.#retry), this.#random);
        logger.error(
          { id: message.id, topic: message.topic, failures, delay, err: error },
          'dead-lettering failed; trying again while the key waits',
        );
        await sleep(this.#timers, delay, signal);
        if (!this.#live(delivery)) return this.#release(delivery);
      }
    }
    logger.warn(
      {
        group: cause.group,
        topic: message.topic,
        id: message.id,
        attempts: cause.attempts,
        err: cause.error,
      },
      'message dead-lettered',
    );
    this.#observe({
      kind: 'dead-lettered',
      group: cause.group,
      topic: message.topic,
      code: errorCode(cause.error),
    });
    await this.#settle(delivery);
    return 'dead-lettered';
  }

  #observe(event: ConsumerEvent): void {
    const observer = this.#options.observer;
    if (observer === undefined) return;
    try {
      observer(event);
    } catch {
      // Metrics must never fail a delivery.
    }
  }

  /** Settles; returns a promise only when the adapter's settle is asynchronous (saves a tick per message). */
  #settle(delivery: Delivery): Promise<void> | undefined {
    const failed = (error: unknown): void =>
      this.#options.logger.warn({ id: delivery.message.id, err: error }, 'could not settle a delivery');
    try {
      const result = delivery.settle();
      return result instanceof Promise ? result.catch(failed) : undefined;
    } catch (error) {
      failed(error);
      return undefined;
    }
  }

  async #release(delivery: Delivery): Promise<DeliveryOutcome> {
    try {
      await delivery.release();
    } catch (error) {
      this.#options.logger.warn({ id: delivery.message.id, err: error }, 'could not release a delivery');
    }
    return 'released';
  }
}
