import type { Context } from '@opentelemetry/api';
import { ConcordError, coreErrors } from '@concord/core';
import type { Database, Tx } from '@concord/outbox';
import { createBatcher } from './batcher.js';
import type { CommitInfo } from './batcher.js';
import { serviceKitErrors } from './errors.js';

export interface BatchedHandlerOptions<M, R> {
  readonly db: Database;
  /**
   * The effects of a batch of messages inside one transaction (inbox rows, effects, outbox rows):
   * one result per message, in order. When the batch transaction fails it runs again for each message
   * alone, so it must work for a batch of one. `contexts[i]` is the trace context `handle` was called in
   * for `messages[i]` (its consumer span): outbox rows written for it should continue that trace.
   */
  readonly handleBatch: (
    tx: Tx,
    messages: readonly M[],
    contexts: readonly Context[],
  ) => Promise<readonly R[]>;
  /** Most messages per transaction. Default 128. */
  readonly maxBatch?: number;
  /** How long the first waiting message waits for company when no transaction is running. Default 1 ms. */
  readonly lingerMs?: number;
  /** Batch transactions at once (each holds a pool connection). Default 4. */
  readonly maxInFlight?: number;
  /** After every batch: its size and timings (a batch that was isolated reports no error). */
  readonly onCommit?: (info: CommitInfo) => void;
  /** A batch transaction failed; its messages are being retried one by one. */
  readonly onIsolate?: (info: { readonly messages: number; readonly error: unknown }) => void;
  readonly now?: () => number;
  /** Name of the span each batch transaction runs in. Default `group commit`. */
  readonly spanName?: string;
}

/**
 * Group commit for consumers: concurrent handler calls share one transaction. `handle` resolves once
 * the transaction holding its message committed, or rejects with the error of its message alone.
 */
export interface BatchedHandler<M, R> {
  handle(message: M): Promise<R>;
  /** Messages waiting for a transaction. */
  readonly queued: number;
  /** Commits what is waiting, waits for transactions in flight; later calls fail retryably. Idempotent. */
  close(): Promise<void>;
}

type Settled<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/**
 * Creates a batched handler on top of the group-commit batcher. Messages that reach it concurrently
 * (the bus runs at most one message per key at a time per group, so they have distinct keys) are
 * committed together: `maxBatch` per transaction, `maxInFlight` transactions at once, the first waiting
 * message lingering `lingerMs` for company. When a batch transaction fails, each of its messages is
 * retried alone in its own transaction, in order, so a poison message fails only itself and its error
 * (with its `retryable`) reaches the bus, which retries or dead-letters that message alone.
 */
export const createBatchedHandler = <M, R>(options: BatchedHandlerOptions<M, R>): BatchedHandler<M, R> => {
  const { db, handleBatch } = options;

  const transaction = (messages: readonly M[], contexts: readonly Context[]): Promise<readonly R[]> =>
    db.withTransaction(async (tx) => {
      const results = await handleBatch(tx, messages, contexts);
      if (results.length !== messages.length) {
        throw new ConcordError(
          coreErrors.INTERNAL,
          `batch handler returned ${results.length} results for ${messages.length} messages`,
        );
      }
      return results;
    });

  const alone = async (message: M, context: Context): Promise<Settled<R>> => {
    try {
      const [value] = await transaction([message], [context]);
      return { ok: true, value: value as R };
    } catch (error) {
      return { ok: false, error };
    }
  };

  const commit = async (messages: readonly M[], contexts: readonly Context[]): Promise<Settled<R>[]> => {
    try {
      const results = await transaction(messages, contexts);
      return results.map((value) => ({ ok: true, value }));
    } catch (error) {
      if (messages.length === 1) return [{ ok: false, error }];
      options.onIsolate?.({ messages: messages.length, error });
      const settled: Settled<R>[] = [];
      for (const [i, message] of messages.entries()) {
        settled.push(await alone(message, contexts[i] as Context));
      }
      return settled;
    }
  };

  const batcher = createBatcher<M, Settled<R>>({
    maxItems: options.maxBatch ?? 128,
    lingerMs: options.lingerMs ?? 1,
    maxInFlight: options.maxInFlight ?? 4,
    size: () => 1,
    commit,
    ...(options.spanName === undefined ? {} : { spanName: options.spanName }),
    closedError: () =>
      new ConcordError(
        serviceKitErrors.CONSUMER_CLOSED,
        'the consumer is shutting down; the message will be redelivered',
        {
          retryable: true,
        },
      ),
    ...(options.onCommit === undefined ? {} : { onCommit: options.onCommit }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  return {
    async handle(message) {
      const settled = await batcher.submit(message);
      if (!settled.ok) throw settled.error;
      return settled.value;
    },
    get queued() {
      return batcher.queued;
    },
    close: () => batcher.close(),
  };
};
