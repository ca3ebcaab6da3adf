import type { Logger } from '@concord/core';
import type { Database } from '../db/types.js';
import type { RelaySql } from './sql.js';

export interface LeasesOptions {
  readonly db: Database;
  readonly sql: RelaySql;
  readonly owner: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Arrays of held partitions and their fencing tokens, as the lease-checking statements take them. */
export interface HeldLeases {
  readonly partitions: number[];
  readonly fences: string[];
}

/**
 * Key-partition leases of one relay instance. Each maintenance round heartbeats, renews what it
 * holds (a partition whose fence changed is lost), then moves towards a fair share of the partitions
 * among live relays: releasing extras, acquiring free or expired ones (bumping their fence). A renewal
 * alone (heartbeat and renew, no change of share) runs on the relay's own timer while a pass publishes.
 * Rounds and renewals run one at a time.
 */
export class Leases {
  readonly #options: LeasesOptions;
  /** partition → fencing token held. */
  readonly #held = new Map<number, string>();
  /**
   * Until when (this host's clock) every held lease is surely valid: the start of the last round or
   * renewal that renewed them all, plus the TTL. The database set each expiry to its own `now()` plus
   * the TTL during that round, which is later in real time, whatever the two clocks read.
   */
  #validUntil = 0;
  /** Bumped whenever the held partitions or their fences change. */
  #generation = 0;
  /** The round or renewal running, if any; the next one waits for it. */
  #running: Promise<unknown> = Promise.resolve();

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

  /** Changes whenever the held partitions or their fences change. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Whether every lease of `held` is still held under the same fence and stays valid for at least
   * `marginMs` more: what a pass checks before it publishes a batch.
   */
  validFor(held: HeldLeases, marginMs: number): boolean {
    if (this.#validUntil - this.#options.now() < marginMs) return false;
    return held.partitions.every((partition, i) => this.#held.get(partition) === held.fences[i]);
  }

  /** Forgets partitions locally (the database refused a fenced write for them). */
  drop(partitions: Iterable<number>): void {
    for (const partition of partitions) {
      if (this.#held.delete(partition)) this.#generation += 1;
    }
  }

  /**
   * Heartbeats and renews the held leases, without changing the share: what the relay's timer runs
   * while a pass publishes. Resolves true when some lease was lost.
   */
  renew(): Promise<boolean> {
    return this.#serial(async () => {
      const started = this.#options.now();
      await this.#options.db.query(this.#options.sql.heartbeat, [this.#options.owner]);
      const changed = await this.#renewHeld();
      this.#validUntil = started + this.#options.ttlMs;
      return changed;
    });
  }

  /** One maintenance round; resolves true when the partitions held (or their fences) changed. */
  maintain(): Promise<boolean> {
    return this.#serial(() => this.#maintain());
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#running.then(work, work);
    this.#running = result.catch(() => undefined);
    return result;
  }

  /** Renews every held lease; the ones whose fence moved on are dropped. Resolves true if any was. */
  async #renewHeld(): Promise<boolean> {
    const { db, sql, owner, ttlMs, logger } = this.#options;
    if (this.#held.size === 0) return false;
    const held = this.held();
    const { rows } = await db.query<{ key_partition: number }>(sql.renew, [
      held.partitions,
      held.fences,
      owner,
      ttlMs,
    ]);
    const renewed = new Set(rows.map((row) => row.key_partition));
    const lost = held.partitions.filter((p) => !renewed.has(p));
    if (lost.length === 0) return false;
    logger.warn({ partitions: lost }, 'outbox relay lost partition leases');
    this.drop(lost);
    return true;
  }

  async #maintain(): Promise<boolean> {
    const { db, sql, owner, ttlMs, logger, now } = this.#options;
    const started = now();
    await db.query(sql.heartbeat, [owner]);
    await db.query(sql.forgetStale, [ttlMs * 3]);
    let changed = await this.#renewHeld();
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
        this.#generation += 1;
        changed = true;
      }
    }
    this.#validUntil = started + ttlMs;
    return changed;
  }

  /** Gives every partition back (on close) so another relay takes over at once. */
  releaseAll(): Promise<void> {
    return this.#serial(() => this.#releaseAll());
  }

  async #releaseAll(): Promise<void> {
    const { db, sql, owner } = this.#options;
    const held = this.held();
    this.#held.clear();
    this.#generation += 1;
    this.#validUntil = 0;
    if (held.partitions.length > 0) await db.query(sql.release, [held.partitions, held.fences, owner]);
    await db.query(sql.forget, [owner]);
  }
}
