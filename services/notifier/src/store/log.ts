import { cast, insertRow, jsonb, raw, statement } from '@concord/outbox';
import type { Sql, TenantScope, Tx } from '@concord/outbox';
import type { NotifierTopic } from '../filter.js';
import { tenantOfNotification } from '../notification.js';
import type { NewNotification, Notification, NotificationKind } from '../notification.js';
import type { Tables } from './tables.js';
import { tenantColumnValue } from './tenant.js';

/**
 * A position in the log's global order (transaction id, then id). Readers only see rows below the
 * snapshot's xmin, so every row that appears later sorts after every position already read.
 */
export interface LogPosition {
  readonly txId: string;
  readonly id: string;
}

export const LOG_START: LogPosition = { txId: '0', id: '0' };

export const comparePositions = (a: LogPosition, b: LogPosition): number => {
  const tx = BigInt(a.txId) - BigInt(b.txId);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const id = BigInt(a.id) - BigInt(b.id);
  return id === 0n ? 0 : id < 0n ? -1 : 1;
};

/** A notification with its position in the log and its tenant (absent: the default tenant). */
export interface LogEntry {
  readonly position: LogPosition;
  readonly tenant?: string;
  readonly notification: Notification;
}

/** A log row as {@link logColumns} names its columns. */
export interface LogRow {
  id: string;
  tx_id: string;
  message_id: string;
  topic: string;
  kind: string;
  event_id: string | null;
  event_type: string | null;
  aggregate_type: string | null;
  aggregate_id: string | null;
  outcome: string | null;
  payload: Notification['data'] | string;
  tenant: string | null;
  created_at: string;
}

// The text aliases shadow the columns in ORDER BY (a bare name there is an output column first), so
// every query that orders rows names the table's columns through the alias `l`: ordering by the text
// ids would put id 10 before id 9 within a transaction, and readers would skip the rows in between.
/**
 * The columns of a {@link LogRow}, read through the table alias `alias` (for a query that joins the log;
 * `''`: unqualified).
 */
export const logColumns = (alias: string): string => {
  const c = alias === '' ? '' : `${alias}.`;
  return `${c}id::text AS id, ${c}tx_id::text AS tx_id, ${c}message_id, ${c}topic, ${c}kind, ${c}event_id,
  ${c}event_type, ${c}aggregate_type, ${c}aggregate_id, ${c}outcome, ${c}payload, ${c}tenant,
  to_char(${c}created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;
};
const COLUMNS = logColumns('');

const toEntry = (row: LogRow): LogEntry => ({
  position: { txId: row.tx_id, id: row.id },
  ...(row.tenant === null ? {} : { tenant: row.tenant }),
  notification: {
    id: row.id,
    kind: row.kind as NotificationKind,
    topic: row.topic as NotifierTopic,
    messageId: row.message_id,
    ...(row.event_id === null ? {} : { eventId: row.event_id }),
    ...(row.event_type === null ? {} : { eventType: row.event_type }),
    ...(row.aggregate_type === null ? {} : { aggregateType: row.aggregate_type }),
    ...(row.aggregate_id === null ? {} : { aggregateId: row.aggregate_id }),
    ...(row.outcome === null ? {} : { outcome: row.outcome }),
    createdAt: row.created_at,
    data: typeof row.payload === 'string' ? (JSON.parse(row.payload) as Notification['data']) : row.payload,
  },
});

/** The notification a {@link LogRow} holds. */
export const notificationOfRow = (row: LogRow): Notification => toEntry(row).notification;

export interface NotificationLog {
  /** Appends inside the consumer's transaction; returns the stored notification (with its id). */
  append(tx: Tx, notification: NewNotification): Promise<Notification>;
  /**
   * Appends a batch in one statement inside the consumer's transaction; returns the stored
   * notifications in the order given. Rows are inserted in message id order (ids ascend in that
   * order), so transactions that meet on the same ids (a redelivery while the first delivery's batch
   * is still open) take their locks in one order and queue instead of deadlocking. The log is the
   * notifier's inbox: a notification whose message id is in the log already (a redelivery, or the same
   * id again in the batch) is not stored again, and its place in the result is `undefined`.
   */
  appendMany(tx: Tx, notifications: readonly NewNotification[]): Promise<(Notification | undefined)[]>;
  /**
   * Entries after `after` in log order, only below the snapshot's xmin (never skips late commits).
   * `scope`: only that tenant's entries (a caller's stream), else every tenant's (the live feed).
   */
  readAfter(sql: Sql, after: LogPosition, limit: number, scope?: TenantScope): Promise<LogEntry[]>;
  /** The position of the last readable entry (or the start when the log is empty). */
  head(sql: Sql): Promise<LogPosition>;
  /**
   * The position of a client's Last-Event-ID. An id no longer in the log (or never there) resumes just
   * before the first entry with a greater id.
   */
  positionOf(sql: Sql, id: string): Promise<LogPosition>;
  /**
   * How far the log has been pruned: every entry at or before this position is gone, or kept only for
   * its unfinished deliveries (LOG_START when nothing was pruned). A reader that resumes before it may
   * have lost entries; reading it after a batch tells whether the batch could have missed any.
   */
  prunedThrough(sql: Sql): Promise<LogPosition>;
  /**
   * Prunes one batch: of the next `limit` entries in log order (below the snapshot's xmin, so no entry
   * can commit behind the pruned position later), the leading run created longer ago than `retentionMs`
   * is passed, and `prunedThrough` moves to its end. Passed entries are deleted with their deliveries,
   * but for those with a delivery still pending or queued, which stay until it finishes (a later batch
   * deletes them). Holds the pruned-position row, so another instance's prune meanwhile does nothing.
   * `more` when the batch was full. The log is the notifier's inbox: a message redelivered after its
   * entry is gone is logged and delivered again, so `retentionMs` must outlast every redelivery window.
   */
  prune(sql: Sql, options: LogPruneOptions): Promise<{ readonly deleted: number; readonly more: boolean }>;
}

export interface LogPruneOptions {
  readonly retentionMs: number;
  readonly limit: number;
}

interface MarkRow {
  through_tx: string;
  through_id: string;
  max_id: string;
}

const laterOf = (a: LogPosition, b: LogPosition): LogPosition => (comparePositions(a, b) >= 0 ? a : b);

/** Entries that still wait for a delivery: pruning keeps them. */
const unfinishedDeliveries = (tables: Tables, entry: string) =>
  `EXISTS (SELECT 1 FROM ${tables.deliveries} d
     WHERE d.notification_id = ${entry}.id AND d.status IN ('pending', 'queued'))`;

export const createNotificationLog = (tables: Tables): NotificationLog => {
  const mark = async (sql: Sql): Promise<{ position: LogPosition; maxId: bigint }> => {
    const { rows } = await sql.query<MarkRow>(
      `SELECT through_tx::text AS through_tx, through_id::text AS through_id, max_id::text AS max_id
       FROM ${tables.logPruned}`,
    );
    const row = rows[0];
    if (row === undefined) return { position: LOG_START, maxId: 0n };
    return { position: { txId: row.through_tx, id: row.through_id }, maxId: BigInt(row.max_id) };
  };

  // Never before the pruned position: a stream "from now" on a pruned log has lost nothing.
  const head = async (sql: Sql): Promise<LogPosition> => {
    const { rows } = await sql.query<{ tx_id: string; id: string }>(
      `SELECT l.tx_id::text AS tx_id, l.id::text AS id FROM ${tables.log} AS l
       WHERE l.tx_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY l.tx_id DESC, l.id DESC
       LIMIT 1`,
    );
    const row = rows[0];
    const last = row === undefined ? LOG_START : { txId: row.tx_id, id: row.id };
    return laterOf(last, (await mark(sql)).position);
  };

  const pruneStatement = `WITH mark AS MATERIALIZED (
      SELECT through_tx, through_id FROM ${tables.logPruned} FOR UPDATE SKIP LOCKED),
    window_rows AS MATERIALIZED (
      SELECT l.id, l.tx_id, l.created_at FROM mark m, ${tables.log} AS l
      WHERE (l.tx_id, l.id) > (m.through_tx, m.through_id)
        AND l.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY l.tx_id, l.id
      LIMIT $2),
    passed AS MATERIALIZED (
      SELECT s.id, s.tx_id FROM (
        SELECT w.id, w.tx_id,
          bool_and(w.created_at < now() - $1::float8 * interval '1 millisecond')
            OVER (ORDER BY w.tx_id, w.id) AS expired
        FROM window_rows w) s
      WHERE s.expired),
    removed AS (
      DELETE FROM ${tables.log} AS l USING passed p
      WHERE l.id = p.id AND NOT ${unfinishedDeliveries(tables, 'l')}
      RETURNING 1),
    moved AS (
      UPDATE ${tables.logPruned} t
      SET through_tx = last.tx_id, through_id = last.id,
        max_id = GREATEST(t.max_id, (SELECT max(p.id) FROM passed p)), pruned_at = now()
      FROM (SELECT p.tx_id, p.id FROM passed p ORDER BY p.tx_id DESC, p.id DESC LIMIT 1) last
      RETURNING 1)
    SELECT (SELECT count(*) FROM passed)::int AS passed, (SELECT count(*) FROM removed)::int AS deleted,
      (SELECT count(*) FROM moved)::int AS moved`;

  // Entries the pruned position passed while their deliveries were unfinished, now finished.
  const pruneKeptStatement = `DELETE FROM ${tables.log} AS l USING (
      SELECT k.id FROM ${tables.logPruned} m, ${tables.log} AS k
      WHERE (k.tx_id, k.id) <= (m.through_tx, m.through_id) AND NOT ${unfinishedDeliveries(tables, 'k')}
      ORDER BY k.tx_id, k.id
      LIMIT $1
      FOR UPDATE OF k SKIP LOCKED) gone
    WHERE l.id = gone.id`;

  return {
    async append(tx, notification) {
      const insert = insertRow(
        tables.log,
        {
          message_id: notification.messageId,
          topic: notification.topic,
          kind: notification.kind,
          event_id: notification.eventId ?? null,
          event_type: notification.eventType ?? null,
          aggregate_type: notification.aggregateType ?? null,
          aggregate_id: notification.aggregateId ?? null,
          outcome: notification.outcome ?? null,
          payload: jsonb(notification.data),
          tenant: tenantOfNotification(notification) ?? null,
        },
        `RETURNING ${COLUMNS}`,
      );
      const { rows } = await tx.query<LogRow>(insert.text, insert.values);
      const row = rows[0];
      if (row === undefined) throw new Error('notification log insert returned no row');
      return toEntry(row).notification;
    },

    async appendMany(tx, notifications) {
      if (notifications.length === 0) return [];
      const sorted = [...notifications].sort((a, b) =>
        a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0,
      );
      const text = (pick: (n: NewNotification) => string | null) => cast(sorted.map(pick), 'text[]');
      const insert = statement`INSERT INTO ${raw(tables.log)}
         (message_id, topic, kind, event_id, event_type, aggregate_type, aggregate_id, outcome, payload, tenant)
       SELECT * FROM unnest(${text((n) => n.messageId)}, ${text((n) => n.topic)}, ${text((n) => n.kind)},
         ${text((n) => n.eventId ?? null)}, ${text((n) => n.eventType ?? null)},
         ${text((n) => n.aggregateType ?? null)}, ${text((n) => n.aggregateId ?? null)},
         ${text((n) => n.outcome ?? null)}, ${cast(
           sorted.map((n) => JSON.stringify(n.data)),
           'jsonb[]',
         )}, ${text((n) => tenantOfNotification(n) ?? null)})
       ON CONFLICT (message_id) DO NOTHING
       RETURNING ${raw(COLUMNS)}`;
      const { rows } = await tx.query<LogRow>(insert.text, insert.values);
      const stored = new Map(rows.map((row) => [row.message_id, toEntry(row).notification]));
      return notifications.map((n) => {
        const notification = stored.get(n.messageId);
        // A second draft with the same id was not stored: only the first gets the row.
        stored.delete(n.messageId);
        return notification;
      });
    },

    async readAfter(sql, after, limit, scope) {
      // One tenant's entries through its index (migrations/0005_tenants.sql: '' is the default tenant).
      const tenant = tenantColumnValue(scope);
      const { rows } = await sql.query<LogRow>(
        `SELECT ${COLUMNS} FROM ${tables.log} AS l
       WHERE (l.tx_id, l.id) > ($1::text::xid8, $2::bigint)
         AND l.tx_id < pg_snapshot_xmin(pg_current_snapshot())
         ${tenant === null ? '' : "AND coalesce(l.tenant, '') = $4"}
       ORDER BY l.tx_id, l.id
       LIMIT $3`,
        [after.txId, after.id, limit, ...(tenant === null ? [] : [tenant])],
      );
      return rows.map(toEntry);
    },

    head,

    async positionOf(sql, id) {
      if (BigInt(id) === 0n) return LOG_START;
      const { rows } = await sql.query<{ tx_id: string; id: string }>(
        `SELECT tx_id::text AS tx_id, id::text AS id FROM ${tables.log} WHERE id = $1::bigint`,
        [id],
      );
      const row = rows[0];
      if (row !== undefined) return { txId: row.tx_id, id: row.id };
      const pruned = await mark(sql);
      // The last entry pruning passed: the client had seen everything up to the pruned position.
      if (BigInt(id) === BigInt(pruned.position.id)) return pruned.position;
      // Perhaps pruned: resume just before the pruned position, so the stream says so (and a feed that
      // starts there does not read what was pruned).
      if (BigInt(id) <= pruned.maxId) {
        return { txId: pruned.position.txId, id: (BigInt(pruned.position.id) - 1n).toString() };
      }
      // Unknown id: continue before the earliest transaction that holds a greater id.
      const next = await sql.query<{ tx_id: string }>(
        `SELECT l.tx_id::text AS tx_id FROM ${tables.log} AS l WHERE l.id > $1::bigint ORDER BY l.tx_id LIMIT 1`,
        [id],
      );
      const txId = next.rows[0]?.tx_id;
      if (txId === undefined) return head(sql);
      // Ids above every pruned one belong to entries after the pruned position.
      return laterOf({ txId: (BigInt(txId) - 1n).toString(), id: '9223372036854775807' }, pruned.position);
    },

    prunedThrough: async (sql) => (await mark(sql)).position,

    async prune(sql, { retentionMs, limit }) {
      const { rows } = await sql.query<{ passed: number; deleted: number; moved: number }>(pruneStatement, [
        retentionMs,
        limit,
      ]);
      const batch = rows[0] ?? { passed: 0, deleted: 0, moved: 0 };
      const more = batch.moved > 0 && batch.passed === limit;
      if (more) return { deleted: batch.deleted, more };
      const kept = await sql.query(pruneKeptStatement, [limit]);
      return { deleted: batch.deleted + kept.rowCount, more: kept.rowCount === limit };
    },
  };
};
