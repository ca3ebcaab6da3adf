import type { Logger } from '@concord/core';
import type { Database } from '../db/types.js';
import type { HeldLeases, Leases } from './leases.js';
import type { Cursor } from './read.js';
import type { OutboxRow } from './row.js';
import type { RelaySql } from './sql.js';
import type { StatsRecorder } from './stats.js';

export interface MarkerOptions {
  readonly db: Database;
  readonly sql: RelaySql;
  readonly leases: Leases;
  readonly owner: string;
  readonly stats: StatsRecorder;
  readonly logger: Logger;
  /** Some confirmed rows were not settled: their partitions' leases moved on (already dropped). */
  readonly onFenced: () => void;
}

/**
 * Settles rows the broker confirmed, under the fences held (`outbox_mark_published`,
 * migrations/outbox/functions/outbox_mark_published.sql),
 * and records their commit-to-confirm lag. Partitions whose lease moved on are dropped.
 */
export class Marker {
  readonly #options: MarkerOptions;

  constructor(options: MarkerOptions) {
    this.#options = options;
  }

  /**
   * Resolves false when some rows were fenced off. `upto` is the position of the read's last row when
   * every row of the read went through: the partitions' watermarks move there (rows of a partition with
   * a key waiting for a retry are marked one by one). Without it — a read with a failure — every row is
   * marked one by one.
   */
  async mark(published: readonly OutboxRow[], held: HeldLeases, upto: Cursor | undefined): Promise<boolean> {
    const { db, sql, owner, stats } = this.#options;
    const { rows } = await db.query<{ marked: number; at_ms: number; valid: number[] }>(
      sql.markPublished,
      [
        published.map((row) => row.id),
        held.partitions,
        held.fences,
        owner,
        upto?.tx ?? null,
        upto?.id ?? null,
      ],
      { prepare: 'relay.mark' },
    );
    const result = rows[0] ?? { marked: 0, at_ms: 0, valid: [] };
    const valid = new Set(result.valid);
    const kept = published.filter((row) => valid.has(row.key_partition));
    stats.recordPublished(kept.map((row) => result.at_ms - row.created_ms));
    if (kept.length === published.length) return true;
    this.#fenced(published, kept);
    return false;
  }

  #fenced(published: readonly OutboxRow[], kept: readonly OutboxRow[]): void {
    const partitions = new Set(published.map((row) => row.key_partition));
    for (const row of kept) partitions.delete(row.key_partition);
    this.#options.stats.recordFenced(published.length - kept.length);
    this.#options.leases.drop(partitions);
    this.#options.onFenced();
    this.#options.logger.warn(
      { rows: published.length - kept.length, partitions: [...partitions] },
      'outbox relay was fenced off',
    );
  }
}
