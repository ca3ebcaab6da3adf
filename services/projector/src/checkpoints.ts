import type { Sql, Tx } from '@concord/outbox';
import { projectionTables } from './tables.js';

/** Where one backend's projection of one aggregate type stands. */
export interface Checkpoint {
  readonly projection: string;
  readonly backend: string;
  readonly lastMessageId: string;
  readonly lastEventId: string;
  readonly lastAggregateId: string;
  readonly lastVersion: number;
  readonly lastCommittedAt?: string;
  readonly projected: number;
  readonly updatedAt: string;
}

export interface CheckpointUpdate {
  /** The projection: the aggregate type. */
  readonly projection: string;
  readonly backends: readonly string[];
  readonly messageId: string;
  readonly eventId: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly committedAt?: string;
}

export interface Checkpoints {
  /**
   * Records the projections of a batch in the consumer's transaction, one statement: per (projection,
   * backend) the last update of the batch, and how many it projected. Each call writes the slot after
   * the previous call's (projection_checkpoint_slots), so the batches in flight at once write different rows and
   * never wait for each other's commit; a batch's rows are locked in a fixed order, so batches that do
   * meet on a slot queue instead of deadlocking. Call it last in the transaction so a row stays locked
   * only until the commit.
   */
  record(tx: Tx, updates: readonly CheckpointUpdate[]): Promise<void>;
  list(sql: Sql): Promise<Checkpoint[]>;
}

interface CheckpointRow {
  projection: string;
  backend: string;
  last_message_id: string;
  last_event_id: string;
  last_aggregate_id: string;
  last_version: number;
  last_committed_at: string | null;
  projected: number;
  updated_at: string;
}

/** Rows per (projection, backend): far more than the batches a projector has in flight (default 4). */
export const CHECKPOINT_SLOTS = 16;

export const createCheckpoints = (options: { readonly schema?: string } = {}): Checkpoints => {
  const { checkpoints, checkpointSlots } = projectionTables(options.schema);
  // Another projector instance starts elsewhere in the ring, so instances rarely share a slot.
  let next = Math.floor(Math.random() * CHECKPOINT_SLOTS);
  return {
    async record(tx, updates) {
      const rows = new Map<string, { update: CheckpointUpdate; backend: string; count: number }>();
      for (const update of updates) {
        for (const backend of update.backends) {
          const key = JSON.stringify([update.projection, backend]);
          rows.set(key, { update, backend, count: (rows.get(key)?.count ?? 0) + 1 });
        }
      }
      if (rows.size === 0) return;
      const slot = next;
      next = (next + 1) % CHECKPOINT_SLOTS;
      const ordered = [...rows.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, row]) => row);
      await tx.query(
        `INSERT INTO ${checkpointSlots} AS c (projection, backend, last_message_id, last_event_id, last_aggregate_id,
           last_version, last_committed_at, projected, slot)
         SELECT *, $9::smallint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
           $6::bigint[], $7::timestamptz[], $8::bigint[])
         ON CONFLICT (projection, backend, slot) DO UPDATE
           SET last_message_id = excluded.last_message_id, last_event_id = excluded.last_event_id,
             last_aggregate_id = excluded.last_aggregate_id, last_version = excluded.last_version,
             last_committed_at = excluded.last_committed_at, projected = c.projected + excluded.projected,
             updated_at = clock_timestamp()`,
        [
          ordered.map((r) => r.update.projection),
          ordered.map((r) => r.backend),
          ordered.map((r) => r.update.messageId),
          ordered.map((r) => r.update.eventId),
          ordered.map((r) => r.update.aggregateId),
          ordered.map((r) => r.update.version),
          ordered.map((r) => r.update.committedAt ?? null),
          ordered.map((r) => r.count),
          slot,
        ],
      );
    },
    async list(sql) {
      const { rows } = await sql.query<CheckpointRow>(
        // The latest row's last_* columns, and what every row projected: the slots, and the single row
        // per (projection, backend) that projectors before the slots wrote.
        `WITH rows AS (
           SELECT projection, backend, last_message_id, last_event_id, last_aggregate_id, last_version,
             last_committed_at, projected, updated_at
           FROM ${checkpointSlots}
           UNION ALL
           SELECT projection, backend, last_message_id, last_event_id, last_aggregate_id, last_version,
             last_committed_at, projected, updated_at
           FROM ${checkpoints})
         SELECT DISTINCT ON (projection, backend) projection, backend, last_message_id, last_event_id,
           last_aggregate_id, last_version::float8 AS last_version, last_committed_at::text AS last_committed_at,
           (sum(projected) OVER (PARTITION BY projection, backend))::float8 AS projected,
           updated_at::text AS updated_at
         FROM rows ORDER BY projection, backend, updated_at DESC`,
      );
      return rows.map((row) => ({
        projection: row.projection,
        backend: row.backend,
        lastMessageId: row.last_message_id,
        lastEventId: row.last_event_id,
        lastAggregateId: row.last_aggregate_id,
        lastVersion: row.last_version,
        ...(row.last_committed_at === null
          ? {}
          : { lastCommittedAt: new Date(row.last_committed_at).toISOString() }),
        projected: row.projected,
        updatedAt: new Date(row.updated_at).toISOString(),
      }));
    },
  };
};
