import type { JsonObject } from '@concord/core';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { Sql } from '../db/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { toEnvelope } from './rows.js';
import type { EventRow } from './rows.js';

/** One outcome an event reached: when, and its details (a conflict's decision among them). */
export interface HistoryOutcome {
  readonly outcome: Outcome;
  readonly at: string;
  readonly details: JsonObject;
}

/** An event of an aggregate's history with every outcome it reached, oldest first. */
export interface HistoryEvent {
  readonly event: EventEnvelope;
  /** Its current outcome (the last of `outcomes`). */
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly outcomes: readonly HistoryOutcome[];
  readonly recordedAt: string;
  /** Cursor just after this event. */
  readonly cursor: string;
}

export interface HistoryOptions {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** A cursor of an event of this history (or of the feed); absent: from the start. */
  readonly after?: string;
  readonly limit: number;
}

export interface HistoryPage {
  readonly events: readonly HistoryEvent[];
  /** Cursor of the next page; absent on the last page. */
  readonly next?: string;
}

type HistoryRow = EventRow & {
  readonly details: JsonObject;
  readonly outcome_history: readonly HistoryOutcome[];
  readonly recorded_at: string;
  readonly updated_at: string;
  readonly tx_id: string;
  readonly position: string;
};

const toHistoryEvent = (row: HistoryRow): HistoryEvent => ({
  event: toEnvelope(row),
  outcome: row.outcome,
  ...(row.version === null ? {} : { version: row.version }),
  ...(row.conflict_id === null ? {} : { conflictId: row.conflict_id }),
  outcomes: [...row.outcome_history, { outcome: row.outcome, at: row.updated_at, details: row.details }],
  recordedAt: row.recorded_at,
  cursor: encodeCursor({ txId: row.tx_id, position: row.position }),
});

/**
 * One page of an aggregate's history (the store's `history` statement): its events of every outcome, the
 * resolver's changes among them, in commit order. `CONCORD_INVALID_CURSOR` for a cursor it did not issue.
 */
export const readHistory = async (
  db: Sql,
  statement: string,
  options: HistoryOptions,
): Promise<HistoryPage> => {
  const after = decodeCursor(options.after);
  const { rows } = await db.query<HistoryRow>(statement, [
    options.aggregateType,
    options.aggregateId,
    after.txId,
    after.position,
    options.limit + 1,
  ]);
  const events = rows.slice(0, options.limit).map(toHistoryEvent);
  const last = events.at(-1);
  return rows.length > options.limit && last !== undefined ? { events, next: last.cursor } : { events };
};
