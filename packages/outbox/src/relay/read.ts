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
  /**
   * Rows of the partitions are committed above the snapshot xmin: an older transaction still runs, and
   * they become readable when it ends (migrations/outbox/functions/outbox_read_horizon.sql).
   */
  readonly waiting: boolean;
}

/**
 * A row of the read, in the read statement's column order: an outbox row (payload as base64 text on
 * `pg`), or (id null) the read horizon.
 */
type ReadRow = [
  id: string | null,
  txId: string,
  messageId: string,
  topic: string,
  key: string,
  keyPartition: number,
  headers: Record<string, string>,
  payload: Uint8Array | string,
  traceparent: string | null,
  tracestate: string | null,
  attempts: number,
  createdMs: number,
  horizonTx: string | null,
  horizonId: string | null,
  waiting: boolean | null,
];

/**
 * One read of the relay: the pending rows of `partitions` after `after` (or from their watermarks), at
 * most `limit`, in (tx id, id) order, and the read horizon seen by the same statement. Rows come as
 * arrays and become objects of one shape here (cheaper than the driver's objects keyed by column name).
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
  const { rows } = await db.query<ReadRow>(
    sql.read,
    [read.partitions, read.limit, read.after?.tx ?? null, read.after?.id ?? null],
    { prepare: 'relay.read', rowMode: 'array' },
  );
  const result: OutboxRow[] = [];
  let horizon: Cursor | undefined;
  let waiting = false;
  for (const row of rows) {
    const [id, txId, messageId, topic, key, keyPartition, headers, payload] = row;
    if (id === null) {
      const [horizonTx, horizonId] = [row[12], row[13]];
      if (horizonTx !== null && horizonId !== null) horizon = { tx: horizonTx, id: horizonId };
      waiting = row[14] === true;
      continue;
    }
    result.push({
      id,
      tx_id: txId,
      message_id: messageId,
      topic,
      key,
      key_partition: keyPartition,
      headers,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'base64') : payload,
      traceparent: row[8],
      tracestate: row[9],
      attempts: row[10],
      created_ms: row[11],
    });
  }
  return { rows: result, horizon, waiting };
};
