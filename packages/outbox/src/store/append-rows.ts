import type { Context } from '@opentelemetry/api';
import { EMPTY_AGGREGATE } from '@concord/core/conflict';
import type { JsonObject } from '@concord/core';
import type { AggregateState, Classification } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { OutboxMessage } from '../outbox/writer.js';
import { splitKey } from './rows.js';
import type { AppendResult } from './types.js';

/**
 * What an append writes and answers, from each event's classification: the per-event results
 * (duplicates included), the event rows' details, and the rows `insertEvents` and `updateAggregates` read.
 */

/** An event already in the store, as `prepareBatch` finds it. */
export interface ExistingEvent {
  readonly event_id: string;
  readonly outcome: Outcome;
  readonly version: number | null;
  readonly conflict_id: string | null;
  readonly details: JsonObject;
}

/** An event of the batch, classified, with what it writes. */
export interface Pending {
  readonly event: EventEnvelope;
  readonly classification: Classification;
  readonly result: AppendResult;
  readonly state: AggregateState;
  readonly context: Context | undefined;
  readonly messages: readonly OutboxMessage[];
}

export const resultOf = (event: EventEnvelope, c: Classification): AppendResult => {
  switch (c.outcome) {
    case 'applied':
    case 'merged':
    case 'superseded':
      return { id: event.id, outcome: c.outcome, version: c.version };
    case 'conflict':
      return { id: event.id, outcome: 'conflict', version: c.version, conflictId: event.id };
    case 'rejected':
      return { id: event.id, outcome: 'rejected', error: { code: c.code, message: c.reason } };
  }
};

export const duplicateResult = (r: AppendResult): AppendResult => ({
  ...r,
  outcome: 'duplicate',
  originalOutcome: r.outcome,
});

export const duplicateOf = (row: ExistingEvent): AppendResult => {
  const error = row.details['error'] as { code: string; message: string } | undefined;
  return {
    id: row.event_id,
    outcome: 'duplicate',
    originalOutcome: row.outcome,
    ...(row.version === null ? {} : { version: row.version }),
    ...(row.conflict_id === null ? {} : { conflictId: row.conflict_id }),
    ...(error === undefined ? {} : { error }),
  };
};

const detailsOf = (c: Classification): JsonObject => {
  switch (c.outcome) {
    case 'applied':
      return { changedFields: [...c.changedFields] };
    case 'merged':
      return {
        changedFields: [...c.changedFields],
        relation: c.relation,
        concurrentFields: [...c.concurrentFields],
      };
    case 'superseded':
      return { reason: c.reason };
    case 'conflict':
      return JSON.parse(JSON.stringify(c.details)) as JsonObject;
    case 'rejected':
      return { error: { code: c.code, message: c.reason } };
  }
};

/** Event rows as `insertEvents` reads them (JSON; an absent property is NULL). */
export const eventRows = (fresh: readonly Pending[]) =>
  fresh.map(({ event, classification, result }) => ({
    event_id: event.id,
    type: event.type,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    base_version: event.baseVersion,
    clock: event.clock,
    hlc: event.hlc,
    origin: event.origin,
    data: event.data,
    metadata: event.metadata,
    outcome: result.outcome,
    version: result.version,
    server_hlc: event.serverHlc,
    applied: classification.outcome === 'applied' || classification.outcome === 'merged',
    conflict_id: result.conflictId,
    details: detailsOf(classification),
  }));

/** Aggregate rows as `updateAggregates` reads them. */
export const aggregateRows = (changed: Set<string>, states: Map<string, AggregateState | undefined>) =>
  [...changed].map((key) => {
    const state = states.get(key) ?? EMPTY_AGGREGATE;
    const [aggregate_type, aggregate_id] = splitKey(key);
    return {
      aggregate_type,
      aggregate_id,
      version: state.version,
      fields: state.fields,
      field_versions: state.fieldVersions,
      vector: state.vector,
    };
  });
