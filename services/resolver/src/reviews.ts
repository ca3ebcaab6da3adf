import { ConcordError, coreErrors } from '@concord/core';
import { createDecisionRecord } from '@concord/core/decision';
import { roundChangeEventId } from '@concord/core/messages';
import type { JsonValue, Logger } from '@concord/core';
import type { DecidedBy } from '@concord/core/decision';
import type { PolicyDecision } from '@concord/core/policy';
import type { FieldSource, StrategyRegistry, StrategyResult } from '@concord/core/strategy';
import type { PhysicalClock } from '@concord/core/versions';
import type { Database, EventStore, ResolutionStore, Tx } from '@concord/outbox';
import { settleChanges } from './conflict.js';
import type { createDecisionWrites } from './decision-writes.js';
import { humanResult, parseHumanDecision } from './decision-input.js';
import { escalationStrategy } from './escalation.js';
import type { PolicySource } from './policy/source.js';
import type { ConflictRow, LedgerDecidedBy, ResolverRepo } from './conflict-records.js';
import type { DecisionObservation, DecisionView } from './types.js';
import { resolverErrors } from './errors.js';

export interface ReviewsOptions {
  readonly db: Database;
  readonly clock: PhysicalClock;
  readonly logger: Logger;
  readonly policy: PolicySource;
  readonly registry?: StrategyRegistry;
  readonly observe?: (observation: DecisionObservation) => void;
  readonly store: EventStore;
  readonly resolutions: ResolutionStore;
  readonly repo: ResolverRepo;
  readonly writes: ReturnType<typeof createDecisionWrites>;
}

/**
 * Settling `manual_review` conflicts, each in one transaction: a person's decision
 * (`decideByHuman`) or, once a review is overdue, its escalation (`escalateDue`).
 */
export const createReviews = (options: ReviewsOptions) => {
  const { db, clock, logger, store, resolutions, repo } = options;
  const { applyChange, publish } = options.writes;

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
    const sources: Record<string, FieldSource> = {};
    for (const field of conflict.overlappingFields) {
      values[field] = rejected
        ? provisionalApplied
          ? conflict.local[field]?.value
          : undefined
        : args.result.fields[field];
      sources[field] = rejected
        ? 'local'
        : (args.result.choices.find((c) => c.field === field)?.source ?? 'remote');
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
      sources,
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
    // A settlement whose messages would not fit the bus (the applied one carries the whole state): a
    // person is told, nothing is written and the review stays open to be decided otherwise; a timeout's
    // becomes a rejection applying nothing, as the policy's would, unless a provisional value is in place
    // (taking it back needs its own change): then the review stays open and the sweep says why.
    const fitted = options.writes.fit({
      conflict,
      state,
      change: settled.change,
      record,
      suffix: 'resolution',
    });
    if (fitted.record !== record && (args.ledgerBy === 'human' || provisionalApplied)) {
      throw new ConcordError(
        coreErrors.AGGREGATE_TOO_LARGE,
        fitted.record.rejection?.reason ?? 'the settlement is too large for a message',
        { details: { conflictId: conflict.id } },
      );
    }
    const change = fitted.change;
    // A reopened conflict's review settles in the reopen's round, with ids of that round.
    const round = row.reopens;
    const applied = await applyChange(tx, {
      conflict,
      state,
      change,
      record: fitted.record,
      suffix: 'resolution',
      ...(round === 0
        ? {}
        : { roundChange: { eventId: roundChangeEventId(conflict.id, round, 'review'), reopen: false } }),
    });
    const version = applied?.version ?? state?.version ?? 0;
    const ledgerId = await repo.insertLedger(tx, {
      record: fitted.record,
      version: applied?.version,
      decidedBy: args.ledgerBy,
      round,
    });
    await repo.updateConflict(tx, {
      conflictId: conflict.id,
      status: fitted.record.outcome,
      record: fitted.record,
      ledgerId,
      version: applied?.version,
      nowMs: clock.now(),
    });
    await publish(tx, {
      conflict,
      record: fitted.record,
      ledgerId,
      applied,
      version,
      causation: args.causation,
      round,
    });
    return { record: fitted.record, version };
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

  return {
    /** `POST /v1/conflicts/:id/decision`: settles a pending review exactly like an automatic decision. */
    decideByHuman: async (conflictId: string, body: unknown): Promise<DecisionView> => {
      const input = parseHumanDecision(body);
      const done = await db.withTransaction(async (tx) => {
        const row = await lockReview(tx, conflictId, (locked) => repo.lockConflict(locked, conflictId));
        if (row === undefined) {
          throw new ConcordError(resolverErrors.CONFLICT_NOT_FOUND, `no conflict ${conflictId}`, {
            details: { conflictId },
          });
        }
        if (row.status !== 'pending_review') {
          throw new ConcordError(
            resolverErrors.CONFLICT_ALREADY_DECIDED,
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
    escalateDue: async (limit = 100): Promise<number> => {
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
