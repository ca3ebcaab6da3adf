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
  /** Deletes ids recorded longer ago than `olderThanMs`; returns how many. */
  prune(sql: Sql, options: { readonly olderThanMs: number; readonly limit?: number }): Promise<number>;
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
    async prune(sql, { olderThanMs, limit = 10_000 }) {
      const { rowCount } = await sql.query(
        `DELETE FROM ${table} WHERE (consumer, message_id) IN (
           SELECT consumer, message_id FROM ${table}
           WHERE received_at < now() - $1 * interval '1 millisecond' LIMIT $2)`,
        [olderThanMs, limit],
      );
      return rowCount;
    },
  };
};
