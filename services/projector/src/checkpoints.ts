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
  /** Records a projection in the consumer's transaction, one row per (projection, backend). */
  record(tx: Tx, update: CheckpointUpdate): Promise<void>;
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

export const createCheckpoints = (options: { readonly schema?: string } = {}): Checkpoints => {
  const { checkpoints } = projectionTables(options.schema);
  return {
    async record(tx, update) {
      if (update.backends.length === 0) return;
      await tx.query(
        `INSERT INTO ${checkpoints} AS c (projection, backend, last_message_id, last_event_id, last_aggregate_id,
           last_version, last_committed_at, projected)
         SELECT $1, b, $3, $4, $5, $6, $7::timestamptz, 1 FROM unnest($2::text[]) AS b
         ON CONFLICT (projection, backend) DO UPDATE
           SET last_message_id = excluded.last_message_id, last_event_id = excluded.last_event_id,
             last_aggregate_id = excluded.last_aggregate_id, last_version = excluded.last_version,
             last_committed_at = excluded.last_committed_at, projected = c.projected + 1,
             updated_at = clock_timestamp()`,
        [
          update.projection,
          [...update.backends].sort(),
          update.messageId,
          update.eventId,
          update.aggregateId,
          update.version,
          update.committedAt ?? null,
        ],
      );
    },
    async list(sql) {
      const { rows } = await sql.query<CheckpointRow>(
        `SELECT projection, backend, last_message_id, last_event_id, last_aggregate_id,
           last_version::float8 AS last_version, last_committed_at::text AS last_committed_at,
           projected::float8 AS projected, updated_at::text AS updated_at
         FROM ${checkpoints} ORDER BY projection, backend`,
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
