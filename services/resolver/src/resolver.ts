import { context, trace } from '@opentelemetry/api';
import type { IncomingMessage } from '@concord/bus';
import { createDecisionRecord, resolutionChanges } from '@concord/core/decision';
import { decide } from '@concord/core/policy';
import type { Logger } from '@concord/core';
import type { ConflictDetectedMessage } from '@concord/core/messages';
import type { StrategyRegistry } from '@concord/core/strategy';
import type { PhysicalClock } from '@concord/core/versions';
import { createEventStore, createInbox, createResolutionStore } from '@concord/outbox';
import type { Database, Tx } from '@concord/outbox';
import { createBatchedHandler } from '@concord/service-kit';
import { refreshConflict } from './conflict.js';
import { createDecisionWrites } from './decision-writes.js';
import { createReopen } from './reopen.js';
import { createReviews } from './reviews.js';
import { parseDetected } from './messages.js';
import type { PolicySource } from './policy/source.js';
import { createResolverRepo } from './repo.js';
import type { DecisionObservation, Resolver } from './types.js';

export interface ResolverOptions {
  readonly db: Database;
  /** Schema of the store tables. */
  readonly schema: string;
  readonly policy: PolicySource;
  readonly clock: PhysicalClock;
  readonly logger: Logger;
  readonly registry?: StrategyRegistry;
  /** Inbox consumer name. */
  readonly consumer: string;
  readonly observe?: (observation: DecisionObservation) => void;
}

/**
 * The resolver's decisions, each in one transaction: automatic ones from `concord.conflicts.detected`
 * (with the inbox); a person's through `decideByHuman` and a timeout's through `escalateDue`, which
 * settle reviews (reviews.ts); a reopen through `reopen` (reopen.ts).
 */
export const createResolver = (options: ResolverOptions): Resolver => {
  const { db, clock, logger } = options;
  const store = createEventStore({ schema: options.schema, now: () => clock.now() });
  const resolutions = createResolutionStore({ schema: options.schema });
  const inbox = createInbox({ schema: options.schema });
  const repo = createResolverRepo(options.schema);
  const writes = createDecisionWrites({ schema: options.schema, store, resolutions, clock, logger });
  const { applyChange, publish } = writes;
  const reviews = createReviews({
    db,
    clock,
    logger,
    policy: options.policy,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.observe === undefined ? {} : { observe: options.observe }),
    store,
    resolutions,
    repo,
    writes,
  });
  const reopens = createReopen({
    db,
    clock,
    logger,
    policy: options.policy,
    ...(options.observe === undefined ? {} : { observe: options.observe }),
    store,
    resolutions,
    repo,
    writes,
  });

  const decideDetected = async (tx: Tx, detected: ConflictDetectedMessage, messageId: string) => {
    const given = detected.conflict;
    const event = given.event;
    const state = await resolutions.lockAggregate(tx, event.aggregateType, event.aggregateId);
    if (await repo.exists(tx, given.id)) return undefined;
    const { conflict, moved } = refreshConflict(given, state);
    const policy = options.policy.current();
    const decision = decide(policy, conflict);
    const suffix = decision.result.decision === 'pending_review' ? 'provisional' : 'resolution';
    // A resolution whose messages would not fit the bus is a rejection (CONCORD_AGGREGATE_TOO_LARGE).
    const { record, change } = writes.fit({
      conflict,
      state,
      record: createDecisionRecord({ conflict, decision, policy, clock }),
      change:
        decision.result.decision === 'rejected' ? undefined : resolutionChanges(conflict, decision.result),
      suffix,
    });
    const applied = await applyChange(tx, {
      conflict,
      state,
      change,
      record,
      suffix,
    });
    const version = applied?.version ?? (record.outcome === 'rejected' ? undefined : (state?.version ?? 0));
    const ledgerId = await repo.insertLedger(tx, { record, version: applied?.version, decidedBy: 'policy' });
    await repo.insertConflict(tx, {
      conflict,
      record,
      ledgerId,
      version: applied?.version,
      provisionalEventId: record.outcome === 'pending_review' ? applied?.eventId : undefined,
      detectedAt: detected.detectedAt,
      nowMs: clock.now(),
    });
    await publish(tx, {
      conflict,
      record,
      ledgerId,
      applied,
      version,
      causation: messageId,
      redecided: moved,
    });
    if (moved) {
      logger.info(
        { conflictId: conflict.id, detectedAt: given.currentVersion, current: state?.version },
        'aggregate moved since detection; decided against its current state',
      );
    }
    return { record, moved };
  };

  type Decided = Awaited<ReturnType<typeof decideDetected>>;
  const detectedBatches = createBatchedHandler<
    { readonly detected: ConflictDetectedMessage; readonly messageId: string },
    Decided
  >({
    db,
    maxInFlight: 2,
    spanName: 'resolver decide',
    handleBatch: async (tx, items, contexts) => {
      // Aggregate locks before the first write (the inbox), so transaction-id order is version order.
      await store.lockAggregates(
        tx,
        items.map(({ detected }) => detected.conflict.event),
      );
      const decided: Decided[] = [];
      for (const [i, { detected, messageId }] of items.entries()) {
        // Each decision's queries and outbox rows continue the trace of the message it decides.
        const done = await context.with(contexts[i] ?? context.active(), () =>
          inbox.handle(tx, options.consumer, messageId, (inner) =>
            decideDetected(inner, detected, messageId),
          ),
        );
        decided.push(done.duplicate ? undefined : done.value);
      }
      return decided;
    },
    onIsolate: ({ messages, error }) =>
      logger.warn({ err: error, messages }, 'conflict batch failed; retrying its messages one by one'),
  });

  return {
    conflicts: repo,

    close: () => detectedBatches.close(),

    async handleDetected(message: IncomingMessage): Promise<'decided' | 'duplicate'> {
      const detected = parseDetected(message.payload);
      const span = trace.getActiveSpan();
      const { conflict } = detected;
      span?.setAttributes({
        'concord.conflict.id': conflict.id,
        'concord.event.id': conflict.event.id,
        'concord.aggregate': `${conflict.event.aggregateType}/${conflict.event.aggregateId}`,
      });
      const done = await detectedBatches.handle({ detected, messageId: message.id });
      if (done === undefined) return 'duplicate';
      logger.debug(
        {
          conflictId: conflict.id,
          eventId: conflict.event.id,
          rule: done.record.rule,
          strategy: done.record.strategy,
          outcome: done.record.outcome,
        },
        'conflict decided',
      );
      span?.setAttributes({
        'concord.rule': done.record.rule ?? '',
        'concord.strategy': done.record.strategy,
        'concord.outcome': done.record.outcome,
        'concord.decision.via': done.record.via,
      });
      const detectedAt = Date.parse(detected.detectedAt);
      options.observe?.({
        record: done.record,
        decidedBy: 'policy',
        latencyMs: Number.isNaN(detectedAt) ? undefined : Math.max(0, clock.now() - detectedAt),
        redecided: done.moved,
      });
      return 'decided';
    },

    /** `POST /v1/conflicts/:id/decision` (see reviews.ts). */
    decideByHuman: reviews.decideByHuman,

    /** Escalates overdue reviews (see reviews.ts). */
    escalateDue: reviews.escalateDue,

    /** `POST /v1/conflicts/:id/reopen` (see reopen.ts). */
    reopen: reopens.reopen,
  };
};
