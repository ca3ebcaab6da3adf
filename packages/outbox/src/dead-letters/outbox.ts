import { coreErrors } from '@concord/core';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Database, Sql } from '../db/types.js';
import { cursorId, missingOf, nextCursor, rowIds } from './common.js';
import type {
  DeadLetterFilter,
  DeadLetterListOptions,
  DeadLetterPage,
  ReplayByIdResult,
  ReplayMatchingResult,
} from './common.js';

/** A row the relay gave up on (`outbox_dead_letters`), without its payload. */
export interface OutboxDeadLetter {
  /** The outbox row's id, kept when it moved. */
  readonly id: string;
  readonly messageId: string;
  readonly topic: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payloadBytes: number;
  /** Failed publish attempts, the last included. */
  readonly attempts: number;
  /** The last attempt's error. */
  readonly errorCode: string;
  readonly error: string;
  /** When the row was written to the outbox, and when it was moved here (ISO 8601). */
  readonly createdAt: string;
  readonly deadLetteredAt: string;
}

/**
 * The outbox's dead letters (`outbox_dead_letters`, written by the relay): listed oldest first, and
 * replayed. A replay moves the row back into the outbox in one transaction — a new outbox row with the
 * same message id, topic, key, headers, payload and trace context, so consumers' inboxes still
 * recognise a message they had handled — and the relay publishes it like any other row. It is a new row:
 * it is published after every row of its key written before the replay, not in its original place.
 */
export interface OutboxDeadLetterStore {
  list(sql: Sql, options: DeadLetterListOptions): Promise<DeadLetterPage<OutboxDeadLetter>>;
  /** Replays the named dead letters in one transaction, in the order they were first written. */
  replay(db: Database, ids: readonly string[]): Promise<ReplayByIdResult>;
  /** Replays up to `limit` dead letters matching `filter`, oldest first, in one transaction. */
  replayMatching(db: Database, filter: DeadLetterFilter, limit: number): Promise<ReplayMatchingResult>;
}

interface Row {
  id: string;
  message_id: string;
  topic: string;
  key: string;
  headers: Record<string, string>;
  payload_bytes: number;
  attempts: number;
  error_code: string | null;
  error: string | null;
  created_at: string;
  dead_lettered_at: string;
}

const iso = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** $n.. topic, error code, before (each null for "any"). */
const matches = (first: number): string =>
  `($${first}::text IS NULL OR d.topic = $${first})
   AND ($${first + 1}::text IS NULL OR d.errors -> -1 ->> 'code' = $${first + 1})
   AND ($${first + 2}::timestamptz IS NULL OR d.dead_lettered_at <= $${first + 2}::timestamptz)`;

const filterParams = (filter: DeadLetterFilter = {}): unknown[] => [
  filter.topic ?? null,
  filter.errorCode ?? null,
  filter.before ?? null,
];

export const createOutboxDeadLetterStore = (options: { schema?: string } = {}): OutboxDeadLetterStore => {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const table = `${schema}.outbox_dead_letters`;
  // Deletes the picked rows and writes them back into the outbox, in the order they were first written.
  const moveBack = (picked: string): string => `WITH moved AS (
      DELETE FROM ${table} d USING (${picked}) p WHERE d.id = p.id RETURNING d.*),
    written AS (
      INSERT INTO ${schema}.outbox (message_id, topic, key, headers, payload, traceparent, tracestate)
      SELECT message_id, topic, key, headers, payload, traceparent, tracestate FROM moved ORDER BY tx_id, id
      RETURNING 1)
    SELECT id::text AS id FROM moved ORDER BY tx_id, id`;
  const replayIds = moveBack(`SELECT unnest($1::bigint[]) AS id`);
  const replayMatching = moveBack(
    `SELECT d.id FROM ${table} d WHERE ${matches(2)} ORDER BY d.id LIMIT $1 FOR UPDATE SKIP LOCKED`,
  );
  const list = `SELECT d.id::text AS id, d.message_id, d.topic, d.key, d.headers,
      octet_length(d.payload) AS payload_bytes, d.attempts,
      d.errors -> -1 ->> 'code' AS error_code, d.errors -> -1 ->> 'message' AS error,
      ${iso('d.created_at')} AS created_at, ${iso('d.dead_lettered_at')} AS dead_lettered_at
    FROM ${table} d
    WHERE d.id > $2::bigint AND ${matches(3)}
    ORDER BY d.id
    LIMIT $1`;

  return {
    async list(sql, { limit, after, filter }) {
      const { rows } = await sql.query<Row>(list, [limit, cursorId(after), ...filterParams(filter)]);
      return {
        deadLetters: rows.map((row) => ({
          id: row.id,
          messageId: row.message_id,
          topic: row.topic,
          key: row.key,
          headers: row.headers,
          payloadBytes: row.payload_bytes,
          attempts: row.attempts,
          errorCode: row.error_code ?? coreErrors.INTERNAL.code,
          error: row.error ?? '',
          createdAt: row.created_at,
          deadLetteredAt: row.dead_lettered_at,
        })),
        next: nextCursor(
          rows.map((row) => row.id),
          limit,
        ),
      };
    },

    async replay(db, ids) {
      const wanted = rowIds(ids);
      const replayed =
        wanted.length === 0
          ? []
          : await db.withTransaction(async (tx) =>
              (await tx.query<{ id: string }>(replayIds, [wanted])).rows.map((row) => row.id),
            );
      return { replayed, missing: missingOf(ids, replayed) };
    },

    async replayMatching(db, filter, limit) {
      const replayed = await db.withTransaction(async (tx) =>
        (await tx.query<{ id: string }>(replayMatching, [limit, ...filterParams(filter)])).rows.map(
          (row) => row.id,
        ),
      );
      return { replayed, more: replayed.length === limit };
    },
  };
};
