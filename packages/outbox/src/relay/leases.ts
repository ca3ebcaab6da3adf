import type { Logger } from '@concord/core';
import type { Database } from '../db/types.js';
import type { RelaySql } from './sql.js';

export interface LeasesOptions {
  readonly db: Database;
  readonly sql: RelaySql;
  readonly owner: string;
  readonly ttlMs: number;
  readonly logger: Logger;
}

/** Arrays of held partitions and their fencing tokens, as the lease-checking statements take them. */
export interface HeldLeases {
  readonly partitions: number[];
  readonly fences: string[];
}

/**
 * Key-partition leases of one relay instance. Each maintenance round heartbeats, renews what it
 * holds (a partition whose fence changed is lost), then moves towards a fair share of the partitions
 * among live relays: releasing extras, acquiring free or expired ones (bumping their fence).
 */
export class Leases {
  readonly #options: LeasesOptions;
  /** partition → fencing token held. */
  readonly #held = new Map<number, string>();

  constructor(options: LeasesOptions) {
    this.#options = options;
  }

  get partitions(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  held(only?: ReadonlySet<number>): HeldLeases {
    const partitions: number[] = [];
    const fences: string[] = [];
    for (const [partition, fence] of this.#held) {
      if (only !== undefined && !only.has(partition)) continue;
      partitions.push(partition);
      fences.push(fence);
    }
    return { partitions, fences };
  }

  /** Forgets partitions locally (the database refused a fenced write for them). */
  drop(partitions: Iterable<number>): void {
    for (const partition of partitions) this.#held.delete(partition);
  }

  /** One maintenance round; resolves true when the partitions held (or their fences) changed. */
  async maintain(): Promise<boolean> {
    const { db, sql, owner, ttlMs, logger } = this.#options;
    let changed = false;
    await db.query(sql.heartbeat, [owner]);
    await db.query(sql.forgetStale, [ttlMs * 3]);
    if (this.#held.size > 0) {
      const held = this.held();
      const { rows } = await db.query<{ key_partition: number }>(sql.renew, [
        held.partitions,
        held.fences,
        owner,
        ttlMs,
      ]);
      const renewed = new Set(rows.map((row) => row.key_partition));
      const lost = held.partitions.filter((p) => !renewed.has(p));
      if (lost.length > 0) {
        logger.warn({ partitions: lost }, 'outbox relay lost partition leases');
        changed = true;
      }
      this.drop(lost);
    }
    const { rows } = await db.query<{ live: number; partitions: number }>(sql.census, [ttlMs]);
    const census = rows[0] ?? { live: 1, partitions: 0 };
    const target = Math.ceil(census.partitions / Math.max(1, census.live));
    if (this.#held.size > target) {
      const extra = this.partitions.slice(target);
      const release = this.held(new Set(extra));
      await db.query(sql.release, [release.partitions, release.fences, owner]);
      this.drop(extra);
      changed = true;
      logger.info({ partitions: extra }, 'outbox relay released partitions to share');
    } else if (this.#held.size < target) {
      const { rows: acquired } = await db.query<{ key_partition: number; fence: string }>(sql.acquire, [
        owner,
        target - this.#held.size,
        ttlMs,
      ]);
      for (const row of acquired) this.#held.set(row.key_partition, row.fence);
      if (acquired.length > 0) {
        logger.info({ partitions: acquired.map((r) => r.key_partition) }, 'outbox relay acquired partitions');
        changed = true;
      }
    }
    return changed;
  }

  /** Gives every partition back (on close) so another relay takes over at once. */
  async releaseAll(): Promise<void> {
    const { db, sql, owner } = this.#options;
    const held = this.held();
    this.#held.clear();
    if (held.partitions.length > 0) await db.query(sql.release, [held.partitions, held.fences, owner]);
    await db.query(sql.forget, [owner]);
  }
}
