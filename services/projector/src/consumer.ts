import { trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { IncomingMessage } from '@concord/bus';
import { encodeJson } from '@concord/bus';
import { MessageIds, Topics } from '@concord/core/messages';
import type { Logger } from '@concord/core';
import type { AppliedMessage } from '@concord/core/messages';
import type { Database, Outbox, OutboxMessage, Tx } from '@concord/outbox';
import { createBatchedHandler, recordInboxBatch } from '@concord/service-kit';
import type { BatchedHandler } from '@concord/service-kit';
import type { CheckpointUpdate, Checkpoints } from './checkpoints.js';
import { malformed, unsupportedCapability } from './errors.js';
import { parseApplied, parseResolved, projectedOf, recordOf } from './messages.js';
import type { ProjectorMetrics } from './metrics.js';
import type { ProjectionRecord } from './model.js';
import type { BackendOutcome, ProjectionOrchestrator } from './orchestrator.js';

export interface ProjectionBatchOptions {
  /** Messages per transaction. Default 128. */
  readonly maxBatch?: number;
  /** Batch transactions at once. Default 4. */
  readonly maxInFlight?: number;
  /** How long a lone message waits for company. Default 1 ms. */
  readonly lingerMs?: number;
}

export interface ProjectionHandlerOptions {
  readonly db: Database;
  readonly orchestrator: ProjectionOrchestrator;
  readonly outbox: Outbox;
  readonly checkpoints: Checkpoints;
  readonly metrics: ProjectorMetrics;
  readonly logger: Logger;
  /** Inbox consumer name. */
  readonly consumer: string;
  /** Schema of the inbox table. */
  readonly schema: string;
  readonly now: () => number;
  readonly batch?: ProjectionBatchOptions;
}

/** A message checked before it joins a batch: a malformed one fails alone, never in a transaction. */
type Prepared =
  | {
      readonly kind: 'applied';
      readonly message: IncomingMessage;
      readonly applied: AppliedMessage;
      readonly record: ProjectionRecord;
    }
  | { readonly kind: 'resolved'; readonly message: IncomingMessage };

type Handled =
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'acknowledged' }
  | {
      readonly kind: 'projected';
      readonly outcomes: readonly BackendOutcome[];
      /** The batch's writes to backends outside the transaction; run once, after the commit. */
      readonly afterCommit: () => Promise<void>;
    };

export interface ProjectionHandler {
  (message: IncomingMessage): Promise<void>;
  /** Commits what is waiting and waits for transactions in flight. Idempotent. */
  close(): Promise<void>;
}

/**
 * Handles `concord.events.applied` and `concord.conflicts.resolved`, in batches: messages the bus
 * hands over concurrently (distinct keys) share one transaction holding their inbox rows (one
 * statement; ids already there are redeliveries and change nothing), the version-guarded upserts into
 * every backend that projects their aggregate types (caches outside Postgres are only invalidated in
 * it and written once it committed, so they are never ahead of a committed row), the
 * `concord.aggregates.projected` outbox rows of the changes some backend moved forward, and — last,
 * so its row locks last only until the commit — the checkpoints. A reordered older version is absorbed by the version guard. A resolution's state
 * reaches the projector as the `applied` message the resolver emits in the same transaction, so a
 * resolved message is recorded in the inbox and counted only. A batch that fails is retried message
 * by message, so a poison message fails (and is retried or dead-lettered) alone.
 */
const withContext = (context: Context | undefined): { context?: Context } =>
  context === undefined ? {} : { context };

/** `projected` (some backend moved forward), `stale` (none did), `duplicate` or `acknowledged`. */
const handledResult = (handled: Handled): string => {
  if (handled.kind !== 'projected') return handled.kind;
  return handled.outcomes.some((o) => o.result === 'applied') ? 'projected' : 'stale';
};

export const createProjectionHandler = (options: ProjectionHandlerOptions): ProjectionHandler => {
  const { db, orchestrator, outbox, checkpoints, metrics, consumer, now } = options;

  const prepare = (message: IncomingMessage): Prepared => {
    switch (message.topic) {
      case Topics.applied: {
        const applied = parseApplied(message.payload);
        if (orchestrator.backendsFor(applied.aggregateType, 'upsert').length === 0) {
          throw unsupportedCapability(undefined, applied.aggregateType);
        }
        return {
          kind: 'applied',
          message,
          applied,
          record: recordOf(applied, new Date(now()).toISOString()),
        };
      }
      case Topics.conflictResolved:
        parseResolved(message.payload);
        return { kind: 'resolved', message };
      default:
        throw malformed(`the projector does not consume ${message.topic}`);
    }
  };

  const handleBatch = async (
    tx: Tx,
    batch: readonly Prepared[],
    contexts: readonly Context[],
  ): Promise<Handled[]> => {
    const contextOf = new Map(batch.map((item, i) => [item, contexts[i]]));
    const fresh = await recordInboxBatch(tx, {
      consumer,
      schema: options.schema,
      messageIds: batch.map((item) => item.message.id),
    });
    // An id twice in one batch is new only the first time.
    const live = batch.map((item) => fresh.delete(item.message.id));
    const projecting = batch.flatMap((item, i) => (live[i] && item.kind === 'applied' ? [item] : []));
    const writes: (() => Promise<void>)[] = [];
    const outcomes = await orchestrator.projectMany(
      { tx, afterCommit: (write) => writes.push(write) },
      projecting.map((item) => item.record),
    );
    let written: Promise<void> | undefined;
    const afterCommit = (): Promise<void> => {
      written ??= Promise.all(writes.map((write) => write())).then(() => undefined);
      return written;
    };

    const messages: OutboxMessage[] = [];
    const updates: CheckpointUpdate[] = [];
    const projected = new Map<Prepared, readonly BackendOutcome[]>();
    projecting.forEach((item, i) => {
      const itemOutcomes = outcomes[i] ?? [];
      projected.set(item, itemOutcomes);
      const moved = itemOutcomes.filter((o) => o.result === 'applied').map((o) => o.backend);
      if (moved.length === 0) return;
      const { message, applied, record } = item;
      messages.push({
        topic: Topics.projected,
        key: record.id,
        id: MessageIds.projected(message.id),
        payload: encodeJson(projectedOf(record, moved)),
        headers: {
          'correlation-id': message.headers['correlation-id'] ?? applied.eventId,
          'causation-id': message.id,
        },
        // The consumed message's trace, not the batch transaction's.
        ...withContext(contextOf.get(item)),
      });
      updates.push({
        projection: record.type,
        backends: moved,
        messageId: message.id,
        eventId: applied.eventId,
        aggregateId: record.id,
        version: record.version,
        ...(record.committedAt === undefined ? {} : { committedAt: record.committedAt }),
      });
    });
    if (messages.length > 0) await outbox.add(tx, messages);
    await checkpoints.record(tx, updates);

    return batch.map((item, i): Handled => {
      if (!live[i]) return { kind: 'duplicate' };
      return item.kind === 'resolved'
        ? { kind: 'acknowledged' }
        : { kind: 'projected', outcomes: projected.get(item) ?? [], afterCommit };
    });
  };

  const batched: BatchedHandler<Prepared, Handled> = createBatchedHandler({
    db,
    handleBatch,
    spanName: 'projector commit',
    ...(options.batch?.maxBatch === undefined ? {} : { maxBatch: options.batch.maxBatch }),
    ...(options.batch?.maxInFlight === undefined ? {} : { maxInFlight: options.batch.maxInFlight }),
    ...(options.batch?.lingerMs === undefined ? {} : { lingerMs: options.batch.lingerMs }),
    onIsolate: ({ messages, error }) =>
      options.logger.warn(
        { err: error, messages },
        'projection batch failed; retrying its messages one by one',
      ),
  });

  const observe = (item: Prepared, handled: Handled): void => {
    const topic = item.message.topic;
    if (handled.kind === 'duplicate') {
      metrics.messages.labels(topic, 'duplicate').inc();
      return;
    }
    if (handled.kind === 'acknowledged' || item.kind !== 'applied') {
      metrics.messages.labels(topic, 'acknowledged').inc();
      return;
    }
    const { record } = item;
    const moved = handled.outcomes.filter((o) => o.result === 'applied');
    for (const outcome of handled.outcomes) metrics.projections.labels(outcome.backend, outcome.result).inc();
    metrics.messages.labels(topic, moved.length > 0 ? 'projected' : 'stale').inc();
    const committedAt = record.committedAt === undefined ? Number.NaN : Date.parse(record.committedAt);
    if (moved.length > 0 && Number.isFinite(committedAt)) {
      const projection = metrics.projection(record.type);
      metrics.lag.labels(projection).observe(Math.max(0, now() - committedAt) / 1000);
      for (const { backend } of moved) {
        metrics.checkpointVersion.labels(projection, backend).set(record.version);
        metrics.checkpointTime.labels(projection, backend).set(committedAt / 1000);
      }
    }
  };

  const handler = async (message: IncomingMessage): Promise<void> => {
    const item = prepare(message);
    const span = trace.getActiveSpan();
    if (item.kind === 'applied') {
      span?.setAttributes({
        'concord.event.id': item.applied.eventId,
        'concord.aggregate': `${item.record.type}/${item.record.id}`,
        'concord.aggregate.version': item.record.version,
      });
    }
    const handled = await batched.handle(item);
    if (handled.kind === 'projected') {
      // Committed: now the caches. One write per batch, whichever of its messages gets here first. A
      // failure leaves their keys dropped (the transaction invalidated them): reads fill them from
      // Postgres, so the message is not failed for it (its redelivery would change nothing).
      await handled
        .afterCommit()
        .catch((error: unknown) =>
          options.logger.warn(
            { err: error, messageId: message.id },
            'cache write after the commit failed; reads fill the cache from the committed rows',
          ),
        );
    }
    const result = handledResult(handled);
    span?.setAttribute('concord.projection.result', result);
    options.logger.debug(
      {
        messageId: message.id,
        result,
        ...(item.kind === 'applied'
          ? {
              eventId: item.applied.eventId,
              aggregate: `${item.record.type}/${item.record.id}`,
              version: item.record.version,
            }
          : {}),
      },
      'message projected',
    );
    observe(item, handled);
  };
  return Object.assign(handler, { close: () => batched.close() });
};
