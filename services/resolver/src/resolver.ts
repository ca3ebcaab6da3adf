import { context, trace } from '@opentelemetry/api';
import type { IncomingMessage } from '@concord/bus';
import { ConcordError, createDecisionRecord, decide, resolutionChanges } from '@concord/core';
import type {
  ConflictDetectedMessage,
  DecidedBy,
  DecisionRecord,
  JsonValue,
  Logger,
  PhysicalClock,
  PolicyDecision,
  StrategyRegistry,
  StrategyResult,
} from '@concord/core';
import { createEventStore, createInbox, createResolutionStore } from '@concord/outbox';
import type { Database, Tx } from '@concord/outbox';
import { createBatchedHandler } from '@concord/service-kit';
import { refreshConflict, settleChanges } from './conflict.js';
import { createDecisionWrites } from './decision-writes.js';
import { DecisionErrorCode, humanResult, parseHumanDecision } from './decision-input.js';
import { escalationStrategy } from './escalation.js';
import { parseDetected } from './messages.js';
import type { PolicySource } from './policy/source.js';
import { createResolverRepo } from './repo.js';
import type { ConflictRow, LedgerDecidedBy } from './repo.js';

/** A decision that committed, for metrics. */
export interface DecisionObservation {
  readonly record: DecisionRecord;
  readonly decidedBy: LedgerDecidedBy;
  /** From detection (policy) or from the review's opening (human, timeout) to the commit. */
  readonly latencyMs: number | undefined;
  /** The aggregate had moved since detection, so the conflict was decided against the current state. */
  readonly redecided: boolean;
}

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

export interface DecisionView {
  readonly conflictId: string;
  readonly status: DecisionRecord['outcome'];
  readonly version: number | undefined;
  readonly decision: DecisionRecord;
}

/**
 * The resolver's decisions, each in one transaction: automatic ones from `concord.conflicts.detected`
 * (with the inbox), a person's through `decideByHuman`, a timeout's through `escalate`.
 */
export const createResolver = (options: ResolverOptions) => {
  const { db, clock, logger } = options;
  const schema = `"${options.schema}"`;
  const store = createEventStore({ schema: options.schema, now: () => clock.now() });
  const resolutions = createResolutionStore({ schema: options.schema });
  const inbox = createInbox({ schema: options.schema });
  const repo = createResolverRepo(schema);
  const { applyChange, publish } = createDecisionWrites({
    schema: options.schema,
    store,
    resolutions,
    clock,
    logger,
  });

  const decideDetected = async (tx: Tx, detected: ConflictDetectedMessage, messageId: string) => {
    const given = detected.conflict;
    const event = given.event;
    const state = await resolutions.lockAggregate(tx, event.aggregateType, event.aggregateId);
    if (await repo.exists(tx, given.id)) return undefined;
    const { conflict, moved } = refreshConflict(given, state);
    const policy = options.policy.current();
    const decision = decide(policy, conflict);
    const record = createDecisionRecord({ conflict, decision, policy, clock });
    const change = record.outcome === 'rejected' ? undefined : resolutionChanges(conflict, decision.result);
    const applied = await applyChange(tx, {
      conflict,
      state,
      change,
      record,
      suffix: record.outcome === 'pending_review' ? 'provisional' : 'resolution',
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

  /** Settles a reviewed conflict (human or timeout) under the locks of its aggregate and row. */
  const settle = async (
    tx: Tx,
    row: ConflictRow,
    args: {
      result: StrategyResult;
      strategy: string;
      decidedBy: DecidedBy;
      ledgerBy: LedgerDecidedBy;
      reasons: readonly string[];
      causation: string;
    },
  ) => {
    const { conflict } = row;
    const previous = row.decision;
    const state = await resolutions.lockAggregate(tx, row.aggregateType, row.aggregateId);
    const provisionalApplied = row.provisionalEventId !== null;
    const rejected = args.result.decision === 'rejected';
    const values: Record<string, JsonValue | undefined> = {};
    for (const field of conflict.overlappingFields) {
      values[field] = rejected
        ? provisionalApplied
          ? conflict.local[field]?.value
          : undefined
        : args.result.fields[field];
    }
    // A rejection takes the provisional apply back: the event's other fields return to what they held
    // before it (the aggregate was at the conflict's version then), so nothing of the event remains.
    const restore =
      rejected && provisionalApplied
        ? await repo.fieldsAt(tx, {
            aggregateType: row.aggregateType,
            aggregateId: row.aggregateId,
            version: conflict.currentVersion,
            fields: Object.keys(conflict.event.data).filter((f) => !conflict.overlappingFields.includes(f)),
          })
        : undefined;
    const settled = settleChanges({
      conflict,
      values,
      state,
      provisionalApplied,
      ...(restore === undefined ? {} : { restore }),
    });
    const kept = settled.kept.map((k) => `${k.field}: kept the later write ${k.eventId ?? ''}`.trim());
    const decision: PolicyDecision = {
      outcome: rejected ? 'rejected' : 'resolved',
      via: previous.via,
      ...(previous.rule === undefined ? {} : { rule: previous.rule }),
      ...(previous.group === undefined ? {} : { group: previous.group }),
      strategy: args.strategy,
      result: { ...args.result, reasons: [...args.reasons, ...args.result.reasons, ...kept] },
      explanation: {
        conditions: previous.conditions,
        skipped: previous.skipped,
        choices: args.result.choices,
      },
    };
    const record = createDecisionRecord({
      conflict,
      decision,
      policy: previous.policy,
      clock,
      decidedBy: args.decidedBy,
    });
    const applied = await applyChange(tx, {
      conflict,
      state,
      change: settled.change,
      record,
      suffix: 'resolution',
    });
    const version = applied?.version ?? state?.version ?? 0;
    const ledgerId = await repo.insertLedger(tx, {
      record,
      version: applied?.version,
      decidedBy: args.ledgerBy,
    });
    await repo.updateConflict(tx, {
      conflictId: conflict.id,
      status: record.outcome,
      record,
      ledgerId,
      version: applied?.version,
      nowMs: clock.now(),
    });
    await publish(tx, { conflict, record, ledgerId, applied, version, causation: args.causation });
    return { record, version };
  };

  /**
   * Locks a reviewed conflict's aggregate, then its row (`lockRow`), re-read under both locks. Row locks
   * assign a transaction id, so the aggregate's advisory lock comes first, as for every other writer:
   * transaction-id order (the relay's publish order) then stays the aggregate's version order.
   */
  const lockReview = async (
    tx: Tx,
    conflictId: string,
    lockRow: (tx: Tx) => Promise<ConflictRow | undefined>,
  ): Promise<ConflictRow | undefined> => {
    // Unlocked read for the aggregate's name (a conflict never changes aggregate); assigns no id.
    const seen = await repo.get(tx, conflictId);
    if (seen === undefined) return undefined;
    await store.lockAggregates(tx, [{ aggregateType: seen.aggregateType, aggregateId: seen.aggregateId }]);
    return lockRow(tx);
  };

  /** Escalates one overdue review in its own transaction; false when it is no longer due or is locked. */
  const escalate = async (id: string): Promise<boolean> => {
    const done = await db.withTransaction(async (tx) => {
      const row = await lockReview(tx, id, (locked) => repo.lockDueReview(locked, id, clock.now()));
      if (row === undefined) return undefined;
      const previous = row.decision;
      const escalation = escalationStrategy({
        policy: options.policy.current(),
        record: previous,
        ...(options.registry === undefined ? {} : { registry: options.registry }),
      });
      const result = escalation?.strategy.resolve(row.conflict);
      const timedOut = `review timed out (due ${row.dueAt ?? '?'})${
        row.escalateTo === null ? '' : `; escalated to ${row.escalateTo}`
      }`;
      const settled =
        escalation !== undefined && result !== undefined && result.decision !== 'pending_review'
          ? await settle(tx, row, {
              result,
              strategy: result.strategy,
              decidedBy: { kind: 'policy' },
              ledgerBy: 'timeout',
              reasons: [`${timedOut}; decided by ${result.strategy} (${escalation.source})`],
              causation: `${id}:timeout`,
            })
          : await settle(tx, row, {
              result: {
                decision: 'resolved',
                strategy: 'manual_review',
                fields: previous.fields,
                choices: previous.choices,
                reasons: [],
              },
              strategy: 'manual_review',
              decidedBy: { kind: 'policy' },
              ledgerBy: 'timeout',
              reasons: [`${timedOut}; no escalation strategy, the current values stand`],
              causation: `${id}:timeout`,
            });
      return { ...settled, createdMs: row.createdMs };
    });
    if (done === undefined) return false;
    options.observe?.({
      record: done.record,
      decidedBy: 'timeout',
      latencyMs: clock.now() - done.createdMs,
      redecided: false,
    });
    return true;
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
    repo,

    /** Commits the conflicts waiting for a transaction; later ones fail retryably. Idempotent. */
    close: () => detectedBatches.close(),

    /**
     * Handles one `concord.conflicts.detected` message; a redelivery changes nothing. Messages handled
     * concurrently (distinct aggregates) share a transaction; a failing one is retried alone.
     */
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

    /** `POST /v1/conflicts/:id/decision`: settles a pending review exactly like an automatic decision. */
    async decideByHuman(conflictId: string, body: unknown): Promise<DecisionView> {
      const input = parseHumanDecision(body);
      const done = await db.withTransaction(async (tx) => {
        const row = await lockReview(tx, conflictId, (locked) => repo.lockConflict(locked, conflictId));
        if (row === undefined) {
          throw new ConcordError(DecisionErrorCode.notFound, `no conflict ${conflictId}`, {
            details: { conflictId },
          });
        }
        if (row.status !== 'pending_review') {
          throw new ConcordError(
            DecisionErrorCode.alreadyDecided,
            `conflict ${conflictId} is already ${row.status}`,
            { details: { conflictId, status: row.status, ledgerId: row.ledgerId } },
          );
        }
        const result = humanResult(row.conflict, input);
        const settled = await settle(tx, row, {
          result,
          strategy: 'manual_review',
          decidedBy: {
            kind: 'human',
            userId: input.userId,
            ...(input.note === undefined ? {} : { note: input.note }),
          },
          ledgerBy: 'human',
          reasons: [],
          causation: `${conflictId}:decision`,
        });
        return { ...settled, createdMs: row.createdMs };
      });
      options.observe?.({
        record: done.record,
        decidedBy: 'human',
        latencyMs: clock.now() - done.createdMs,
        redecided: false,
      });
      return { conflictId, status: done.record.outcome, version: done.version, decision: done.record };
    },

    /**
     * Escalates overdue reviews, each in its own transaction (one settled meanwhile is skipped), up to
     * `limit` of them. A review that fails is logged and left for the next sweep while the sweep goes on
     * with the others; after `limit` failures in one sweep it stops (a fault that fails every review).
     */
    async escalateDue(limit = 100): Promise<number> {
      let escalated = 0;
      let failed = 0;
      const tried: string[] = [];
      for (;;) {
        const ids = await repo.dueReviews(db, { nowMs: clock.now(), limit: limit - escalated, skip: tried });
        if (ids.length === 0) return escalated;
        for (const id of ids) {
          tried.push(id);
          try {
            if (await escalate(id)) escalated += 1;
          } catch (error) {
            failed += 1;
            logger.error(
              { err: error, conflictId: id },
              'escalating an overdue review failed; the sweep goes on, the next one tries it again',
            );
            if (failed >= limit) return escalated;
          }
        }
        if (escalated >= limit) return escalated;
      }
    },
  };
};

export type Resolver = ReturnType<typeof createResolver>;
