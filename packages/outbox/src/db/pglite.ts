import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Database, ListenOptions, QueryOptions, QueryResult, Sql, Tx, Unlisten } from './types.js';

export interface PgliteDatabaseOptions {
  readonly pglite: PGlite;
  /** Close the PGlite instance on close(). Default false. */
  readonly ownsInstance?: boolean;
}

const sqlOf = (target: PGlite | Transaction): Sql => ({
  async query<R>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    const result = await target.query<R>(
      text,
      params as unknown[] | undefined,
      options?.rowMode === undefined ? undefined : { rowMode: options.rowMode },
    );
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  },
  async exec(text: string) {
    await target.exec(text);
  },
});

/**
 * Adapts a PGlite instance (embedded mode). PGlite is one connection: transactions are serialised by
 * PGlite itself, LISTEN/NOTIFY works within the instance, and `pg_current_xact_id()` and snapshots
 * behave as on a server with a single session.
 */
export const pgliteDatabase = (options: PgliteDatabaseOptions): Database => {
  const { pglite } = options;
  const base = sqlOf(pglite);
  let closed = false;
  return {
    kind: 'pglite',
    ...base,
    withTransaction: <T>(fn: (tx: Tx) => Promise<T>) => pglite.transaction((tx) => fn(sqlOf(tx))),
    async listen(listenOptions: ListenOptions): Promise<Unlisten> {
      const unlisten = await pglite.listen(listenOptions.channel, listenOptions.onNotify);
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        await unlisten();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.ownsInstance === true) await pglite.close();
    },
  };
};
