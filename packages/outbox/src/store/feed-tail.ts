import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Sql } from '../db/types.js';
import { decodeCursor } from './cursor.js';
import { toFeedEvent } from './rows.js';
import type { EventRow } from './rows.js';
import type { FeedPage } from './types.js';

export interface FeedTailOptions {
  /** Schema holding the event store. Default `concord`. */
  readonly schema?: string;
  /** A cursor the feed issued. */
  readonly after: string;
  readonly limit?: number;
}

/**
 * Applied events after a feed cursor, every committed one this statement sees: unlike the feed it is
 * not bounded by the snapshot's xmin. A reader that holds a lock excluding concurrent effects (a
 * projection rebuild swapping its result in) uses it to catch up to everything committed so far.
 * Order within one aggregate is by version.
 */
export const readFeedTail = async (sql: Sql, options: FeedTailOptions): Promise<FeedPage> => {
  const events = `${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.events`;
  const after = decodeCursor(options.after);
  const limit = Math.max(1, Math.min(options.limit ?? 1000, 10_000));
  const { rows } = await sql.query<EventRow & { tx_id: string; position: string }>(
    `SELECT e.event_id, e.type, e.aggregate_type, e.aggregate_id, e.base_version::float8 AS base_version,
       e.clock, e.hlc, e.server_hlc, e.origin, e.data, e.metadata, e.outcome, e.version::float8 AS version,
       e.conflict_id, e.provenance, e.tx_id::text AS tx_id, e.position::text AS position
     FROM ${events} e
     WHERE e.applied AND (e.tx_id, e.position) > ($1::text::xid8, $2::bigint)
     ORDER BY e.tx_id, e.position
     LIMIT $3`,
    [after.txId, after.position, limit],
  );
  const page = rows.map(toFeedEvent);
  return { events: page, next: page.at(-1)?.cursor ?? options.after };
};
