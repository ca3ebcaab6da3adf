import type { Database } from '../db/types.js';
import type { OutboxRow } from './row.js';
import type { RelaySql } from './sql.js';

/** Position of a row in the relay's read order. */
export interface Cursor {
  readonly tx: string;
  readonly id: string;
}

/** The later of two positions (`undefined` is before every position). */
export const later = (a: Cursor | undefined, b: Cursor | undefined): Cursor | undefined => {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const [ta, tb] = [BigInt(a.tx), BigInt(b.tx)];
  if (ta !== tb) return ta > tb ? a : b;
  return BigInt(a.id) >= BigInt(b.id) ? a : b;
};

export interface ReadResult {
  readonly rows: OutboxRow[];
  /** The last row below the snapshot xmin in any partition (see outbox_read_horizon). */
  readonly horizon: Cursor | undefined;
}

/** A row of the read: an outbox row, or (id null) only the horizon when nothing is pending. */
type HorizonRow = Omit<OutboxRow, 'id'> & {
  readonly id: string | null;
  readonly horizon_tx: string | null;
  readonly horizon_id: string | null;
};

/**
 * One read of the relay: the pending rows of `partitions` after `after` (or from their watermarks), at
 * most `limit`, in (tx id, id) order, and the read horizon seen by the same statement.
 */
export const readBatch = async (
  db: Database,
  sql: RelaySql,
  read: {
    readonly partitions: readonly number[];
    readonly after: Cursor | undefined;
    readonly limit: number;
  },
): Promise<ReadResult> => {
  const { rows } = await db.query<HorizonRow>(
    sql.read,
    [read.partitions, read.limit, read.after?.tx ?? null, read.after?.id ?? null],
    { prepare: 'relay.read' },
  );
  const first = rows[0];
  const horizon =
    first !== undefined && first.horizon_tx !== null && first.horizon_id !== null
      ? { tx: first.horizon_tx, id: first.horizon_id }
      : undefined;
  // With nothing pending, the one row that comes back carries the horizon alone.
  return { rows: rows.filter((row): row is HorizonRow & OutboxRow => row.id !== null), horizon };
};
