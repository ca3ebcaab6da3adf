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

/** A message a consumer group gave up on, as the bus dead-lettered it. */
export interface NewBusDeadLetter {
  readonly group: string;
  readonly messageId: string;
  /** The topic the group gave up on (not `<topic>.dlq`). */
  readonly topic: string;
  readonly key: string;
  /** The message's own headers (the dead-letter headers left out). */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number;
}

/** A stored bus dead letter (`bus_dead_letters`), without its payload. */
export interface BusDeadLetter extends Omit<NewBusDeadLetter, 'payload'> {
  readonly id: string;
  readonly payloadBytes: number;
  /** ISO 8601. */
  readonly deadLetteredAt: string;
}

/**
 * The bus's dead letters of some consumer groups (`bus_dead_letters`): recorded from `<topic>.dlq`, listed
 * oldest first, and replayed. A replay deletes the dead letter and writes the message into the outbox for
 * its original topic, in one transaction, with the same message id, key, headers (trace context
 * included) and payload; the relay publishes it. Every group of the topic receives it again: those that
 * handled it already drop it in their inbox (same id, within its retention), the group that gave up
 * handles it. It is published after whatever its key got meanwhile, not in its original place.
 * Every method works on `groups` only: a service sees and replays its own groups' dead letters.
 */
export interface BusDeadLetterStore {
  /** Keeps one dead letter; a dead letter of the same group and message already kept is ignored. */
  record(sql: Sql, letter: NewBusDeadLetter): Promise<boolean>;
  list(
    sql: Sql,
    groups: readonly string[],
    options: DeadLetterListOptions,
  ): Promise<DeadLetterPage<BusDeadLetter>>;
  replay(db: Database, groups: readonly string[], ids: readonly string[]): Promise<ReplayByIdResult>;
  replayMatching(
    db: Database,
    groups: readonly string[],
    filter: DeadLetterFilter,
    limit: number,
  ): Promise<ReplayMatchingResult>;
}

interface Row {
  id: string;
  consumer_group: string;
  message_id: string;
  topic: string;
  key: string;
  headers: Record<string, string>;
  payload_bytes: number;
  error_code: string;
  error: string;
  attempts: number;
  dead_lettered_at: string;
}

/** $n.. groups, topic, group, error code, before (each null for "any" but the groups). */
const matches = (first: number): string =>
  `d.consumer_group = ANY($${first}::text[])
   AND ($${first + 1}::text IS NULL OR d.topic = $${first + 1})
   AND ($${first + 2}::text IS NULL OR d.consumer_group = $${first + 2})
   AND ($${first + 3}::text IS NULL OR d.error_code = $${first + 3})
   AND ($${first + 4}::timestamptz IS NULL OR d.dead_lettered_at <= $${first + 4}::timestamptz)`;

const filterParams = (groups: readonly string[], filter: DeadLetterFilter = {}): unknown[] => [
  [...groups],
  filter.topic ?? null,
  filter.group ?? null,
  filter.errorCode ?? null,
  filter.before ?? null,
];

export const createBusDeadLetterStore = (options: { schema?: string } = {}): BusDeadLetterStore => {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const table = `${schema}.bus_dead_letters`;
  // The trace context goes back to its columns, from which the relay continues the message's trace.
  const moveBack = (picked: string): string => `WITH moved AS (
      DELETE FROM ${table} d USING (${picked}) p WHERE d.id = p.id RETURNING d.*),
    written AS (
      INSERT INTO ${schema}.outbox (message_id, topic, key, headers, payload, traceparent, tracestate)
      SELECT message_id, topic, key, headers - 'traceparent' - 'tracestate', payload,
        headers ->> 'traceparent', headers ->> 'tracestate'
      FROM moved ORDER BY id
      RETURNING 1)
    SELECT id::text AS id FROM moved ORDER BY id`;
  const replayIds = moveBack(
    `SELECT d.id FROM ${table} d WHERE d.id = ANY($1::bigint[]) AND d.consumer_group = ANY($2::text[])`,
  );
  const replayMatching = moveBack(
    `SELECT d.id FROM ${table} d WHERE ${matches(2)} ORDER BY d.id LIMIT $1 FOR UPDATE SKIP LOCKED`,
  );
  const list = `SELECT d.id::text AS id, d.consumer_group, d.message_id, d.topic, d.key, d.headers,
      octet_length(d.payload) AS payload_bytes, d.error_code, d.error, d.attempts,
      to_char(d.dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS dead_lettered_at
    FROM ${table} d
    WHERE d.id > $2::bigint AND ${matches(3)}
    ORDER BY d.id
    LIMIT $1`;
  const record = `INSERT INTO ${table}
      (consumer_group, message_id, topic, key, headers, payload, error_code, error, attempts)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)
    ON CONFLICT (consumer_group, message_id) DO NOTHING`;

  return {
    async record(sql, letter) {
      const { rowCount } = await sql.query(record, [
        letter.group,
        letter.messageId,
        letter.topic,
        letter.key,
        JSON.stringify(letter.headers),
        letter.payload,
        letter.errorCode,
        letter.error,
        letter.attempts,
      ]);
      return rowCount > 0;
    },

    async list(sql, groups, { limit, after, filter }) {
      const { rows } = await sql.query<Row>(list, [limit, cursorId(after), ...filterParams(groups, filter)]);
      return {
        deadLetters: rows.map((row) => ({
          id: row.id,
          group: row.consumer_group,
          messageId: row.message_id,
          topic: row.topic,
          key: row.key,
          headers: row.headers,
          payloadBytes: row.payload_bytes,
          errorCode: row.error_code,
          error: row.error,
          attempts: row.attempts,
          deadLetteredAt: row.dead_lettered_at,
        })),
        next: nextCursor(
          rows.map((row) => row.id),
          limit,
        ),
      };
    },

    async replay(db, groups, ids) {
      const wanted = rowIds(ids);
      const replayed =
        wanted.length === 0
          ? []
          : await db.withTransaction(async (tx) =>
              (await tx.query<{ id: string }>(replayIds, [wanted, [...groups]])).rows.map((row) => row.id),
            );
      return { replayed, missing: missingOf(ids, replayed) };
    },

    async replayMatching(db, groups, filter, limit) {
      const replayed = await db.withTransaction(async (tx) =>
        (await tx.query<{ id: string }>(replayMatching, [limit, ...filterParams(groups, filter)])).rows.map(
          (row) => row.id,
        ),
      );
      return { replayed, more: replayed.length === limit };
    },
  };
};
