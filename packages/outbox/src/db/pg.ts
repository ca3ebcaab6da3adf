import { createHash } from 'node:crypto';
import { ConcordError, silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Pool, PoolClient } from 'pg';
import type { Database, ListenOptions, QueryOptions, QueryResult, Sql, Tx, Unlisten } from './types.js';
import { outboxErrors } from '../errors.js';

export interface PgDatabaseOptions {
  readonly pool: Pool;
  readonly logger?: Logger;
  /** End the pool on close(). Default false: whoever created the pool closes it. */
  readonly ownsPool?: boolean;
}

const toResult = <R>(result: { rows: R[]; rowCount: number | null }): QueryResult<R> => ({
  rows: result.rows,
  rowCount: result.rowCount ?? 0,
});

/**
 * Statement names by text: `pg` prepares a named statement once per connection, then reuses it. The
 * name is the caller's label and a hash of the text (the same label may name texts for several schemas).
 */
const statementNames = new Map<string, string>();
const statementName = (label: string, text: string): string => {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `concord.${label}.${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
};

const clientSql = (client: Pool | PoolClient): Sql => ({
  async query<R>(text: string, params?: readonly unknown[], options?: QueryOptions) {
    const values = params as unknown[] | undefined;
    const label = options?.prepare;
    const result = await client.query({
      text,
      ...(label === undefined ? {} : { name: statementName(label, text) }),
      ...(values === undefined ? {} : { values }),
      ...(options?.rowMode === undefined ? {} : { rowMode: options.rowMode }),
    });
    return toResult(result as unknown as { rows: R[]; rowCount: number | null });
  },
  async exec(text: string) {
    await client.query(text);
  },
});

/**
 * Adapts a `pg` Pool. Transactions run on one checked-out client; a client whose connection broke is
 * destroyed rather than returned to the pool. Idle-client errors (e.g. Postgres restarting) are logged,
 * not thrown, so a restart of the database never crashes the process.
 */
const ignoreError = (): void => undefined;

export const pgDatabase = (options: PgDatabaseOptions): Database => {
  const { pool } = options;
  const logger = options.logger ?? silentLogger;
  const onPoolError = (error: Error) => logger.warn({ err: error }, 'idle postgres client failed');
  pool.on('error', onPoolError);
  // pg emits 'error' on a client whose connection dies while no query of it is running (57P01 when
  // Postgres restarts); the pool listens only while the client is idle, so a client checked out at that
  // moment, outside a transaction's own listener, would take the process down with an unhandled 'error'.
  // Every client keeps this listener for its whole life; whatever needed the connection fails on its own.
  pool.on('connect', (client) => client.on('error', ignoreError));
  let closed = false;
  const base = clientSql(pool);

  const withTransaction = async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose connection dies emits 'error'; the failing query rejects as well.
    const onClientError = (error: Error) => {
      broken = error;
      logger.warn({ err: error }, 'postgres connection lost during a transaction');
    };
    client.on('error', onClientError);
    try {
      await client.query('BEGIN');
      try {
        const value = await fn(clientSql(client));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw error;
      }
    } catch (error) {
      broken ??= isConnectionError(error) ? (error as Error) : undefined;
      throw error;
    } finally {
      client.removeListener('error', onClientError);
      // A broken client is destroyed; its socket may still report errors after release.
      if (broken !== undefined) client.on('error', ignoreError);
      client.release(broken);
    }
  };

  const listen = async (listenOptions: ListenOptions): Promise<Unlisten> => {
    const client = await pool.connect();
    let released = false;
    const release = (error?: Error) => {
      if (released) return;
      released = true;
      client.removeListener('notification', onNotification);
      client.removeListener('error', onError);
      // The client is destroyed, not pooled; its socket may still report errors (e.g. 57P01 on a restart).
      client.on('error', ignoreError);
      client.release(error ?? true);
    };
    const onNotification = (message: { channel: string; payload?: string | undefined }) => {
      if (message.channel === listenOptions.channel) listenOptions.onNotify(message.payload ?? '');
    };
    const onError = (error: Error) => {
      release(error);
      listenOptions.onError?.(error);
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    try {
      await client.query(`LISTEN "${listenOptions.channel.replaceAll('"', '""')}"`);
    } catch (error) {
      release(error instanceof Error ? error : new Error(String(error)));
      throw new ConcordError(outboxErrors.OUTBOX_LISTEN_FAILED, 'LISTEN failed', {
        retryable: true,
        cause: error,
      });
    }
    return () => {
      // Destroying the client drops the LISTEN with the connection.
      release();
      return Promise.resolve();
    };
  };

  return {
    kind: 'pg',
    ...base,
    withTransaction,
    listen,
    async close() {
      if (closed) return;
      closed = true;
      // An owned pool keeps its error listener: connections still closing may report errors.
      if (options.ownsPool === true) await pool.end();
      else pool.removeListener('error', onPoolError);
    },
  };
};

const isConnectionError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02')) {
    return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|ECONNRESET|ECONNREFUSED|not queryable/i.test(message);
};
