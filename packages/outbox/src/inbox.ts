import { DEFAULT_SCHEMA, quoteSchema } from './db/ident.js';
import type { Sql, Tx } from './db/types.js';

export interface InboxOptions {
  /** Schema holding the inbox table. Default `concord`. */
  readonly schema?: string;
}

/** What `handle` did: ran the work, or recognised a message it had already handled. */
export type InboxResult<T> = { readonly duplicate: false; readonly value: T } | { readonly duplicate: true };

/** Consumer-side deduplication: the message id is recorded in the same transaction as the effect. */
export interface Inbox {
  /**
   * Records `messageId` for `consumer` in `tx` and runs `work(tx)`; when the id is already recorded
   * (a redelivery), `work` does not run. Call inside the transaction that holds the effect, so both
   * commit or neither does. A concurrent delivery of the same id waits for the first and then sees it.
   */
  handle<T>(
    tx: Tx,
    consumer: string,
    messageId: string,
    work: (tx: Tx) => Promise<T>,
  ): Promise<InboxResult<T>>;
  /**
   * Deletes up to `limit` ids (default 10,000) recorded longer ago than `olderThanMs`, oldest first, of
   * `consumers` only when given; returns how many. One bounded statement: call it again while it returns
   * `limit`. Rows another pruner holds are skipped, so instances pruning at once never wait on each other.
   * A redelivery of a pruned id is handled again: `olderThanMs` must outlast every redelivery window.
   */
  prune(sql: Sql, options: InboxPruneOptions): Promise<number>;
}

export interface InboxPruneOptions {
  readonly olderThanMs: number;
  readonly limit?: number;
  readonly consumers?: readonly string[];
}

/** Creates the inbox. */
export const createInbox = (options: InboxOptions = {}): Inbox => {
  const table = `${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.inbox`;
  return {
    async handle(tx, consumer, messageId, work) {
      const { rowCount } = await tx.query(
        `INSERT INTO ${table} (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [consumer, messageId],
      );
      if (rowCount === 0) return { duplicate: true };
      return { duplicate: false, value: await work(tx) };
    },
    async prune(sql, { olderThanMs, limit = 10_000, consumers }) {
      const { rowCount } = await sql.query(
        `DELETE FROM ${table} i USING (
           SELECT consumer, message_id FROM ${table}
           WHERE received_at < now() - $1::float8 * interval '1 millisecond'
             AND ($3::text[] IS NULL OR consumer = ANY($3::text[]))
           ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED) old
         WHERE i.consumer = old.consumer AND i.message_id = old.message_id`,
        [olderThanMs, limit, consumers === undefined ? null : [...consumers]],
      );
      return rowCount;
    },
  };
};
