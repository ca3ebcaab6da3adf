import type { Database } from '../db/types.js';
import type { RelaySql } from './sql.js';

/** Rows one cleanup statement looks at. */
const CHUNK = 10_000;

/**
 * Deletes settled rows older than `retentionMs`, walking the outbox in primary-key order a chunk at a
 * time until it meets a recent row (rows are written in roughly id order). Rows not yet settled — a key
 * waiting for its retry, a partition whose relay is away — are stepped over. Stops early when `stopped`.
 */
export const cleanupPublished = async (
  db: Database,
  sql: RelaySql,
  retentionMs: number,
  stopped: () => boolean,
): Promise<void> => {
  let after = '0';
  for (;;) {
    const { rows } = await db.query<{ scanned: number; last_id: string | null; reached_recent: boolean }>(
      sql.cleanup,
      [retentionMs, CHUNK, after],
      { prepare: 'relay.cleanup' },
    );
    const result = rows[0];
    if (result === undefined || result.last_id === null) return;
    if (result.reached_recent || result.scanned < CHUNK || stopped()) return;
    after = result.last_id;
  }
};
