/** Rows of a query, with the number of rows a write touched. */
export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepare the statement once per connection and from then on only bind and execute it (`pg`; PGlite
   * ignores it). For fixed statement texts that run often and cost more to parse and plan than to run,
   * such as the store's batch statements; never for texts built per call (each text is kept prepared
   * on every connection that ran it). The name says what the statement does (`store.append`), and is
   * what traces and `pg_prepared_statements` show.
   */
  readonly prepare?: string;
  /**
   * `array`: each row comes back as an array of its values in column order rather than an object.
   * Cheaper to build for large reads that the caller turns into objects of its own anyway.
   */
  readonly rowMode?: 'array';
}

/**
 * What store, outbox and inbox need from a connection or a transaction: parameterised queries and
 * multi-statement scripts. Both `pg` (Pool / PoolClient) and PGlite (the instance or its transaction
 * object) are adapted to it.
 */
export interface Sql {
  query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
}

/** A transaction handle: the same surface as {@link Sql}, bound to one open transaction. */
export type Tx = Sql;

/** Stops a LISTEN. Idempotent. */
export type Unlisten = () => Promise<void>;

export interface ListenOptions {
  readonly channel: string;
  readonly onNotify: (payload: string) => void;
  /** The listening connection was lost; the caller listens again when it wants to. */
  readonly onError?: (error: unknown) => void;
}

/** A database: queries on a pooled connection, transactions, LISTEN, and an idempotent close. */
export interface Database extends Sql {
  /** `pg` or `pglite`. */
  readonly kind: 'pg' | 'pglite';
  /** Runs `fn` in one transaction: commits when it resolves, rolls back when it throws. */
  withTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** LISTEN on a channel on a dedicated connection. */
  listen(options: ListenOptions): Promise<Unlisten>;
  /** Closes what this adapter owns (nothing when it was handed an external pool). Idempotent. */
  close(): Promise<void>;
}
