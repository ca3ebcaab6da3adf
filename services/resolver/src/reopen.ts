import { ConcordError } from '@concord/core';
import { createDecisionRecord } from '@concord/core/decision';
import { MAX_REOPENS, roundChangeEventId } from '@concord/core/messages';
import { decide } from '@concord/core/policy';
import type { JsonValue, Logger } from '@concord/core';
import type { AggregateState } from '@concord/core/conflict';
import type { DecisionRecord } from '@concord/core/decision';
import type { CompiledPolicy, PolicyDecision } from '@concord/core/policy';
import type { FieldSource } from '@concord/core/strategy';
import type { PhysicalClock } from '@concord/core/versions';
import type { Database, EventStore, ResolutionStore, Tx } from '@concord/outbox';
import { settleChanges } from './conflict.js';
import type { ConflictRow, ResolverRepo } from './conflict-records.js';
import type { createDecisionWrites } from './decision-writes.js';
import type { PolicySource } from './policy/source.js';
import type { ReopenInput } from './reopen-input.js';
import type { DecisionObservation, DecisionView } from './types.js';
import { resolverErrors } from './errors.js';

/** How long a reopened conflict's review runs when no rule of the policy sets a review timeout: a day. */
export const DEFAULT_REOPEN_REVIEW_MS = 24 * 60 * 60 * 1000;

/** One side of a reopen: the decision standing before it, or the one after. */
export interface ReopenSide {
  readonly outcome: DecisionRecord['outcome'];
  readonly rule: string | null;
  readonly group: string | null;
  readonly strategy: string;
  /** Aggregate version on that side of the reopen. */
  readonly version: number | null;
  /** What the aggregate held in the conflict's fields (absent: not set). */
  readonly fields: Readonly<Record<string, JsonValue>>;
}

/** The reversal a reopen records in the ledger, beside its decision: who, why, when, before and after. */
export interface ReopenRecord {
  readonly round: number;
  readonly userId: string;
  readonly reason: string;
  /** `review`: back into review; `current` or `inline`: re-decided at once by that policy. */
  readonly mode: ReopenInput['policy']['kind'];
  readonly at: string;
  /** The ledger row of the decision reopened. */
  readonly ledgerId: number;
  readonly before: ReopenSide;
  readonly after: ReopenSide;
}

/** A reopen's ledger record: its decision, and the reversal. */
export type ReopenedDecision = DecisionRecord & { readonly reopen: ReopenRecord };

export interface ReopenOptions {
  readonly db: Database;
  readonly clock: PhysicalClock;
  readonly logger: Logger;
  readonly policy: PolicySource;
  readonly observe?: (observation: DecisionObservation) => void;
  readonly store: EventStore;
  readonly resolutions: ResolutionStore;
  readonly repo: ResolverRepo;
  readonly writes: ReturnType<typeof createDecisionWrites>;
}

const notFound = (conflictId: string) =>
  new ConcordError(resolverErrors.CONFLICT_NOT_FOUND, `no conflict ${conflictId}`, {
    details: { conflictId },
  });

const sideOf = (
  record: DecisionRecord,
  state: AggregateState | undefined,
  fields: readonly string[],
): ReopenSide => ({
  outcome: record.outcome,
  rule: record.rule ?? null,
  group: record.group ?? null,
  strategy: record.strategy,
  version: state?.version ?? null,
  fields: Object.fromEntries(
    fields.flatMap((field) => {
      const value = state?.fields[field];
      return value === undefined ? [] : [[field, value]];
    }),
  ),
});

/**
 * The review a reopen opens: the policy's own review of the conflict, if it asks for one, else a
 * manual review of `DEFAULT_REOPEN_REVIEW_MS`, escalating along the reopened decision's rule. Either way
 * no provisional strategy applies: the values that stand are the review's provisional values.
 */
const reviewOf = (
  verdict: PolicyDecision,
  previous: DecisionRecord,
  current: Readonly<Record<string, JsonValue | undefined>>,
): PolicyDecision => {
  const result = {
    decision: 'pending_review' as const,
    strategy: 'manual_review',
    fields: current,
    choices: [],
  };
  if (verdict.result.decision === 'pending_review') {
    const { provisionalStrategy: _provisional, ...review } = verdict.result.review ?? {};
    return {
      ...verdict,
      outcome: 'pending_review',
      result: { ...result, reasons: ['reopened into the review its rule asks for'], review },
    };
  }
  return {
    outcome: 'pending_review',
    via: previous.via,
    ...(previous.rule === undefined ? {} : { rule: previous.rule }),
    ...(previous.group === undefined ? {} : { group: previous.group }),
    strategy: 'manual_review',
    result: {
      ...result,
      reasons: [
        `reopened into a review of ${DEFAULT_REOPEN_REVIEW_MS / 3_600_000} h (its rule asks for none)`,
      ],
      review: { timeoutMs: DEFAULT_REOPEN_REVIEW_MS },
    },
    explanation: { conditions: previous.conditions, skipped: previous.skipped, choices: [] },
  };
};

/**
 * `POST /v1/conflicts/:id/reopen`: a decided conflict goes back into review, or is decided again at once
 * by a policy, in one transaction. Reopen `r` is round `r` of the conflict: it always writes a new
 * aggregate version, `<conflict id>:reopen:<r>` (`ConflictReopened`, setting the fields a re-decision
 * changes, none when the values stand), never rewriting an earlier one; the ledger records its decision
 * with the reversal (`ReopenRecord`); its messages, and those of the review it opens, carry ids of
 * round `r`, so subscribers are told again.
 */
export const createReopen = (options: ReopenOptions) => {
  const { db, clock, logger, store, resolutions, repo, writes } = options;

  /** What the verdict writes: the conflict's fields by it (settled like a review), the event's others. */
  const changeOf = async (
    tx: Tx,
    args: { row: ConflictRow; state: AggregateState | undefined; record: DecisionRecord; eventsIn: boolean },
  ) => {
    const { row, state, record, eventsIn } = args;
    const { conflict } = row;
    if (record.outcome === 'pending_review') return { change: undefined, kept: [] };
    const rejected = record.outcome === 'rejected';
    const values: Record<string, JsonValue | undefined> = {};
    const sources: Record<string, FieldSource> = {};
    for (const field of conflict.overlappingFields) {
      values[field] = rejected ? (eventsIn ? conflict.local[field]?.value : undefined) : record.fields[field];
      sources[field] = rejected
        ? 'local'
        : (record.choices.find((c) => c.field === field)?.source ?? 'remote');
    }
    // A rejection of a conflict whose event had applied takes it back, as after a provisional apply.
    const restore =
      rejected && eventsIn
        ? await repo.fieldsAt(tx, {
            aggregateType: row.aggregateType,
            aggregateId: row.aggregateId,
            version: conflict.currentVersion,
            fields: Object.keys(conflict.event.data).filter((f) => !conflict.overlappingFields.includes(f)),
          })
        : undefined;
    return settleChanges({
      conflict,
      values,
      sources,
      state,
      provisionalApplied: eventsIn,
      ...(restore === undefined ? {} : { restore }),
    });
  };

  const reopenLocked = async (tx: Tx, row: ConflictRow, input: ReopenInput) => {
    const { conflict } = row;
    if (row.status === 'pending_review') {
      throw new ConcordError(
        resolverErrors.CONFLICT_PENDING_REVIEW,
        `conflict ${row.conflictId} is in review already: decide it instead`,
        { details: { conflictId: row.conflictId, status: row.status, dueAt: row.dueAt } },
      );
    }
    const round = row.reopens + 1;
    if (round > MAX_REOPENS) {
      throw new ConcordError(
        resolverErrors.CONFLICT_REOPEN_LIMIT,
        `conflict ${row.conflictId} was reopened ${row.reopens} times, the most a conflict can be`,
        { details: { conflictId: row.conflictId, reopens: row.reopens } },
      );
    }
    const state = await resolutions.lockAggregate(tx, row.aggregateType, row.aggregateId);
    const previous = row.decision;
    const policy: CompiledPolicy =
      input.policy.kind === 'inline' ? input.policy.policy : options.policy.current();
    const verdict = decide(policy, conflict);
    const current = Object.fromEntries(conflict.overlappingFields.map((f) => [f, state?.fields[f]]));
    const decision =
      input.policy.kind === 'review' || verdict.result.decision === 'pending_review'
        ? reviewOf(verdict, previous, current)
        : verdict;
    const reopened = `reopened by ${input.userId}: ${input.reason}`;
    const made = createDecisionRecord({
      conflict,
      decision: {
        ...decision,
        result: { ...decision.result, reasons: [reopened, ...decision.result.reasons] },
      },
      policy,
      clock,
      decidedBy:
        input.policy.kind === 'review'
          ? { kind: 'human', userId: input.userId, note: input.reason }
          : { kind: 'policy' },
    });
    // The event's fields are in the aggregate when the reopened decision resolved it.
    const eventsIn = row.status === 'resolved';
    const settled = await changeOf(tx, { row, state, record: made, eventsIn });
    const { record, change } = writes.fit({
      conflict,
      state,
      record: made,
      change: settled.change,
      suffix: 'resolution',
    });
    const kept = settled.kept.map((k) => `${k.field}: kept the later write ${k.eventId ?? ''}`.trim());
    const reopenId = roundChangeEventId(conflict.id, round, 'reopen');
    const applied = await writes.applyChange(tx, {
      conflict,
      state,
      change,
      record,
      suffix: 'resolution',
      roundChange: { eventId: reopenId, reopen: true },
    });
    const version = applied?.version ?? state?.version ?? 0;
    const fields = Object.keys(conflict.event.data);
    const ledgerRecord: ReopenedDecision = {
      ...record,
      reasons: [...record.reasons, ...kept],
      reopen: {
        round,
        userId: input.userId,
        reason: input.reason,
        mode: input.policy.kind,
        at: new Date(clock.now()).toISOString(),
        ledgerId: row.ledgerId,
        before: sideOf(previous, state, fields),
        after: sideOf(record, applied?.state ?? state, fields),
      },
    };
    const ledgerId = await repo.insertLedger(tx, {
      record: ledgerRecord,
      version: applied?.version,
      decidedBy: 'reopen',
      round,
    });
    const pending = record.outcome === 'pending_review';
    await repo.reopenConflict(tx, {
      conflictId: conflict.id,
      record: ledgerRecord,
      ledgerId,
      version: applied?.version,
      round,
      // While in review, the event's other fields count as provisionally applied when they are in.
      provisionalEventId: pending && eventsIn ? reopenId : undefined,
      nowMs: clock.now(),
    });
    await writes.publish(tx, {
      conflict,
      record: ledgerRecord,
      ledgerId,
      applied,
      version,
      causation: `${conflict.id}:reopen`,
      round,
    });
    return { record: ledgerRecord, version, createdMs: row.createdMs };
  };

  return {
    /** Reopens a decided conflict (`ReopenInput` from `parseReopen`); see {@link createReopen}. */
    reopen: async (conflictId: string, input: ReopenInput): Promise<DecisionView> => {
      const done = await db.withTransaction(async (tx) => {
        // The aggregate's lock before the row's (a row lock assigns a transaction id), as for reviews.
        const seen = await repo.get(tx, conflictId);
        if (seen === undefined) throw notFound(conflictId);
        await store.lockAggregates(tx, [
          { aggregateType: seen.aggregateType, aggregateId: seen.aggregateId },
        ]);
        const row = await repo.lockConflict(tx, conflictId);
        if (row === undefined) throw notFound(conflictId);
        return reopenLocked(tx, row, input);
      });
      logger.info(
        { conflictId, round: done.record.reopen.round, outcome: done.record.outcome, userId: input.userId },
        'conflict reopened',
      );
      options.observe?.({ record: done.record, decidedBy: 'reopen', latencyMs: undefined, redecided: false });
      return { conflictId, status: done.record.outcome, version: done.version, decision: done.record };
    },
  };
};
