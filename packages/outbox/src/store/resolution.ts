import { ConcordError } from '@concord/core';
import { applyChanges, writeOf } from '@concord/core/conflict';
import type { JsonObject } from '@concord/core';
import type { AggregateState, FieldChangeSet, WriteProvenance } from '@concord/core/conflict';
import type { Outcome } from '@concord/core/messages';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import { insertRow, jsonb, raw, statement } from '../db/statement.js';
import type { Tx } from '../db/types.js';
import { toState } from './rows.js';
import type { AggregateRow } from './rows.js';
import { outboxErrors } from '../errors.js';

export interface ResolutionStoreOptions {
  /** Schema holding the event store tables. Default `concord`. */
  readonly schema?: string;
  /** Bound on the stored vector's entries (see core's `pruneVector`). */
  readonly maxVectorEntries?: number;
}

export interface ApplyResolutionOptions {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The state `lockAggregate` returned in this transaction: the change applies on top of it. */
  readonly state: AggregateState | undefined;
  /** What to write, with the provenance of the change (core's `resolutionChanges` / `changeSetOf`). */
  readonly change: FieldChangeSet;
  /** Id of the new applied row in the events table, e.g. `<conflictId>:resolution`. */
  readonly eventId: string;
  /** Event type of that row, e.g. `ConflictResolved`. */
  readonly type: string;
  readonly conflictId: string;
  /** Outcome recorded on the row (`resolved`, or `pending_review` for a provisional value). */
  readonly outcome: Outcome;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly details?: JsonObject;
}

export interface AppliedResolution {
  readonly eventId: string;
  /** The aggregate version the change produced. */
  readonly version: number;
  /** The aggregate after the change. */
  readonly state: AggregateState;
}

/**
 * The resolver's writes to the event store: lock an aggregate and apply a decision to it as a new
 * version, recorded as an applied row of the events table, so the pull feed (and a replay of it)
 * equals the aggregate.
 */
export interface ResolutionStore {
  /** Locks the aggregate row (`FOR UPDATE`, creating it if missing) and returns its current state. */
  lockAggregate(tx: Tx, aggregateType: string, aggregateId: string): Promise<AggregateState | undefined>;
  /**
   * Applies `change` on top of `state` (which must be the locked, current state): the aggregate gets a
   * new version and the events table an applied row with the change's fields as its data.
   */
  applyResolution(tx: Tx, options: ApplyResolutionOptions): Promise<AppliedResolution>;
}

/** Creates the resolution writer of the event store. */
export const createResolutionStore = (options: ResolutionStoreOptions = {}): ResolutionStore => {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const aggregates = `${schema}.aggregates`;
  const events = `${schema}.events`;
  const applyOptions =
    options.maxVectorEntries === undefined ? {} : { maxVectorEntries: options.maxVectorEntries };

  return {
    async lockAggregate(tx, aggregateType, aggregateId) {
      await tx.query(
        `INSERT INTO ${aggregates} (aggregate_type, aggregate_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [aggregateType, aggregateId],
      );
      const { rows } = await tx.query<AggregateRow>(
        `SELECT a.version::float8 AS version, a.fields, a.field_versions, a.vector
         FROM ${aggregates} a WHERE a.aggregate_type = $1 AND a.aggregate_id = $2 FOR UPDATE`,
        [aggregateType, aggregateId],
      );
      return toState(rows[0]);
    },

    async applyResolution(tx, apply) {
      const before = apply.state?.version ?? 0;
      const next = applyChanges(apply.state, apply.change, applyOptions);
      const update = statement`UPDATE ${raw(aggregates)}
         SET version = ${next.version}, fields = ${jsonb(next.fields)},
           field_versions = ${jsonb(next.fieldVersions)}, vector = ${jsonb(next.vector)}, updated_at = now()
         WHERE aggregate_type = ${apply.aggregateType} AND aggregate_id = ${apply.aggregateId}
           AND version = ${before}`;
      const updated = await tx.query(update.text, update.values);
      if (updated.rowCount !== 1) {
        throw new ConcordError(
          outboxErrors.AGGREGATE_MOVED,
          `aggregate ${apply.aggregateType}/${apply.aggregateId} is not at version ${before}; lock it first`,
          { retryable: true },
        );
      }
      // Every field the change sets is credited on the row, so a rebuild's fold credits it as `next` does.
      const own = writeOf(apply.change);
      const provenance: Record<string, WriteProvenance> = {};
      for (const field of Object.keys(apply.change.fields))
        provenance[field] = apply.change.provenance?.[field] ?? own;
      const insert = insertRow(events, {
        event_id: apply.eventId,
        type: apply.type,
        aggregate_type: apply.aggregateType,
        aggregate_id: apply.aggregateId,
        base_version: before,
        clock: jsonb(apply.change.clock),
        hlc: apply.change.hlc ?? null,
        origin: apply.change.origin ?? null,
        data: jsonb(apply.change.fields),
        metadata: jsonb(apply.metadata),
        outcome: apply.outcome,
        version: next.version,
        applied: true,
        conflict_id: apply.conflictId,
        details: jsonb(apply.details ?? {}),
        server_hlc: apply.change.serverHlc ?? null,
        provenance: jsonb(provenance),
      });
      await tx.query(insert.text, insert.values);
      return { eventId: apply.eventId, version: next.version, state: next };
    },
  };
};
