import { applyChanges } from '@concord/core/conflict';
import { MAX_PAYLOAD_BYTES, changeEventId } from '@concord/core/messages';
import { coreErrors } from '@concord/core';
import type { JsonObject, Logger } from '@concord/core';
import type { AggregateState, Conflict } from '@concord/core/conflict';
import type { DecisionRecord, resolutionChanges } from '@concord/core/decision';
import type { ChangeIdSuffix } from '@concord/core/messages';
import type { PhysicalClock } from '@concord/core/versions';
import { createOutbox } from '@concord/outbox';
import type { AppliedResolution, EventStore, ResolutionStore, Tx } from '@concord/outbox';
import { decisionMessages } from './messages.js';

/** An applied change with the fields it set. */
export type Applied = AppliedResolution & { readonly changes: JsonObject };

/**
 * The resolver records each change it applies as an event of its own, `<conflict id>:<suffix>` (core's
 * `changeEventId`). Core's event-id rule refuses submitted ids with these endings, so no client's event
 * can take one of them.
 */
export { CHANGE_ID_SUFFIXES, changeEventId } from '@concord/core/messages';
export type { ChangeIdSuffix };

const json = (value: unknown): JsonObject => JSON.parse(JSON.stringify(value)) as JsonObject;

export interface DecisionWritesOptions {
  readonly schema: string;
  readonly store: EventStore;
  readonly resolutions: ResolutionStore;
  readonly clock: PhysicalClock;
  readonly logger: Logger;
  /** Largest payload of a message a decision publishes. Default core's `MAX_PAYLOAD_BYTES`. */
  readonly maxPayloadBytes?: number;
}

type Change = ReturnType<typeof resolutionChanges>;

/**
 * The decision turned into a rejection (`CONCORD_AGGREGATE_TOO_LARGE`) that applies nothing: its
 * resolution would have made a message larger than the bus carries.
 */
const tooLarge = (record: DecisionRecord, largest: number, limit: number): DecisionRecord => {
  const reason =
    `the resolution's messages would be ${largest} bytes, over the ${limit} a message may carry: ` +
    `the aggregate's state is too large`;
  const { review: _review, ...rest } = record;
  return {
    ...rest,
    outcome: 'rejected',
    provisional: false,
    final: true,
    fields: {},
    choices: [],
    reasons: [...record.reasons, reason],
    rejection: { code: coreErrors.AGGREGATE_TOO_LARGE.code, reason },
  };
};

/**
 * What a decision writes besides its ledger and conflict rows, in the deciding transaction: the change
 * it applies to the aggregate (a new version, recorded as an applied event), the conflicting event's
 * outcome, and its messages through the outbox.
 */
export const createDecisionWrites = (options: DecisionWritesOptions) => {
  const { store, resolutions, clock, logger } = options;
  const outbox = createOutbox({ schema: options.schema });
  const iso = () => new Date(clock.now()).toISOString();
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;

  /**
   * The decision as it can be published: unchanged when each of its messages (the applied one carries
   * the aggregate's whole state after the change) fits `maxPayloadBytes`, else a rejection applying
   * nothing. Checked before anything is written, like ingest's check of an event's messages.
   */
  const fit = (args: {
    conflict: Conflict;
    state: AggregateState | undefined;
    change: Change;
    record: DecisionRecord;
    suffix: ChangeIdSuffix;
  }): { record: DecisionRecord; change: Change } => {
    const { conflict, change, record } = args;
    const next =
      change === undefined || Object.keys(change.fields).length === 0
        ? undefined
        : applyChanges(args.state, change);
    const messages = decisionMessages({
      conflict,
      record,
      applied:
        next === undefined
          ? undefined
          : { eventId: changeEventId(conflict.id, args.suffix), version: next.version, state: next },
      changes: change?.fields,
      version: next?.version ?? args.state?.version,
      causation: conflict.id,
      committedAt: iso(),
    });
    const largest = Math.max(0, ...messages.map((m) => m.payload.byteLength));
    if (largest <= maxPayloadBytes) return { record, change };
    logger.warn({ conflictId: conflict.id, bytes: largest }, 'resolution too large for a message; rejected');
    return { record: tooLarge(record, largest, maxPayloadBytes), change: undefined };
  };

  /**
   * Applies a change (if any) as `<conflictId>:<suffix>` (or, in a reopened conflict's later round, as
   * `roundChange`) and returns it.
   */
  const applyChange = async (
    tx: Tx,
    args: {
      conflict: Conflict;
      state: Awaited<ReturnType<typeof resolutions.lockAggregate>>;
      change: ReturnType<typeof resolutionChanges>;
      record: DecisionRecord;
      suffix: ChangeIdSuffix;
      /** A round ≥ 1's change: its id, and for a reopen its type (a reopen is a version even if empty). */
      roundChange?: { readonly eventId: string; readonly reopen: boolean };
    },
  ): Promise<Applied | undefined> => {
    const { conflict, record, roundChange } = args;
    const change =
      roundChange?.reopen === true
        ? (args.change ?? { fields: {}, eventId: roundChange.eventId })
        : args.change;
    if (change === undefined) return undefined;
    if (Object.keys(change.fields).length === 0 && roundChange?.reopen !== true) return undefined;
    const type =
      roundChange?.reopen === true
        ? 'ConflictReopened'
        : args.suffix === 'provisional'
          ? 'ConflictProvisionallyResolved'
          : record.outcome === 'rejected'
            ? 'ConflictReverted'
            : 'ConflictResolved';
    const applied = await resolutions.applyResolution(tx, {
      aggregateType: conflict.event.aggregateType,
      aggregateId: conflict.event.aggregateId,
      state: args.state,
      change,
      eventId: roundChange?.eventId ?? changeEventId(conflict.id, args.suffix),
      type,
      conflictId: conflict.id,
      outcome: record.outcome,
      metadata: {
        conflictId: conflict.id,
        eventId: conflict.event.id,
        strategy: record.strategy,
        decidedBy: record.decidedBy.kind === 'human' ? `human:${record.decidedBy.userId}` : 'policy',
      },
      details: { conflictId: conflict.id, provisional: record.provisional },
    });
    return { ...applied, changes: change.fields };
  };

  /** The event's outcome row and the outbox messages of a decision. */
  const publish = async (
    tx: Tx,
    args: {
      conflict: Conflict;
      record: DecisionRecord;
      ledgerId: number;
      applied: Applied | undefined;
      version: number | undefined;
      causation: string;
      redecided?: boolean;
      /** The conflict's round (0 until reopened), for the ids of its messages. */
      round?: number;
    },
  ) => {
    const { conflict, record, applied } = args;
    const decision = json({
      ...record,
      ledgerId: args.ledgerId,
      ...(applied === undefined ? {} : { appliedEventId: applied.eventId }),
      ...(args.version === undefined ? {} : { version: args.version }),
      ...(args.redecided === undefined ? {} : { redecided: args.redecided }),
    });
    const recorded = await store.recordOutcome(tx, {
      eventId: conflict.event.id,
      outcome: record.outcome,
      details: {
        conflictId: conflict.id,
        decision,
        ...(record.rejection === undefined
          ? {}
          : { error: { code: record.rejection.code, message: record.rejection.reason } }),
      },
      ...(args.version === undefined ? {} : { version: args.version }),
    });
    if (!recorded) logger.warn({ eventId: conflict.event.id }, 'conflict event not in the event store');
    await outbox.add(
      tx,
      decisionMessages({
        conflict,
        record,
        applied,
        changes: applied?.changes,
        version: args.version,
        causation: args.causation,
        committedAt: iso(),
        round: args.round ?? 0,
      }),
    );
  };

  return { fit, applyChange, publish };
};
