import type { Logger } from '@concord/core';
import { sleep } from '../timers.js';
import type { Timers } from '../timers.js';

/** What a {@link ShardAssigner} asks the broker and does there (a `ShardLeases` on a connection). */
export interface ShardPort {
  /** Live members of the group for this topic, this one included (consumers of the members queue). */
  members(): Promise<number>;
  /** Whether some member holds the shard now (its claim queue has a consumer). */
  claimed(shard: number): Promise<boolean>;
  /** Tries to take the shard and starts consuming it; false when another member holds it. */
  claim(shard: number): Promise<boolean>;
  /** Stops consuming the shard without letting a later message of a key go first; then it is free. */
  release(shard: number): Promise<void>;
}

export interface ShardAssignerOptions {
  readonly shards: number;
  readonly port: ShardPort;
  /** Mean pause between two balancing passes; each pause is drawn from [½, 1½) of it. */
  readonly intervalMs: number;
  readonly timers: Timers;
  readonly random: () => number;
  readonly logger: Logger;
}

/**
 * - `idle`: created, not balancing yet;
 * - `balancing`: a pass runs every interval (the first at once);
 * - `stopped`: no more passes (the subscription closes, or its connection went away). Final.
 */
export type ShardAssignerState = 'idle' | 'balancing' | 'stopped';

/** The shards a member aims to hold: its fair share, rounded up (so every shard has a taker). */
export const fairShare = (shards: number, members: number): number =>
  Math.ceil(shards / Math.max(1, members));

/**
 * Decides which shards of one group's queue for one topic this member consumes, without a database: a
 * pass reads how many members the group has, releases the shards it holds beyond its fair share
 * (⌈shards / members⌉), the last taken first, and claims free ones up to it, starting at a random
 * shard so that members starting together spread out. A member that joins gets shards once the others
 * have given theirs up at their next pass; the shards of one that leaves or dies are free (its claims
 * vanish with its channels) and taken at the others' next pass.
 */
export class ShardAssigner {
  readonly #options: ShardAssignerOptions;
  readonly #stop = new AbortController();
  /** Shards held, in the order they were taken. */
  readonly #held: number[] = [];
  #state: ShardAssignerState = 'idle';
  #loop: Promise<void> | undefined;

  constructor(options: ShardAssignerOptions) {
    this.#options = options;
  }

  get state(): ShardAssignerState {
    return this.#state;
  }

  /** The shards this member consumes, in the order it took them. */
  get held(): readonly number[] {
    return this.#held;
  }

  /** The shard's consumer went away without a release (channel error, queue deleted): it is not held. */
  lost(shard: number): void {
    const index = this.#held.indexOf(shard);
    if (index >= 0) this.#held.splice(index, 1);
  }

  /** Runs the first pass, then keeps balancing until {@link stop}. Resolves after the first pass. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'balancing';
    await this.#pass();
    this.#loop = this.#run();
  }

  /** Ends balancing (the caller closes the leases). Resolves once a pass under way has ended. Idempotent. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#stop.abort();
    await this.#loop;
  }

  /** One balancing pass. Never rejects: a failure is logged and the next pass tries again. */
  async balance(): Promise<void> {
    const { shards, port } = this.#options;
    const members = await port.members();
    const fair = fairShare(shards, members);
    if (!this.#balancing()) return;
    if (this.#held.length > fair) {
      const surplus = this.#held.slice(fair);
      this.#options.logger.info({ released: surplus, members }, 'releasing shards to other members');
      await Promise.all(
        surplus.map(async (shard) => {
          await port.release(shard);
          this.lost(shard);
        }),
      );
      return;
    }
    const offset = Math.floor(this.#options.random() * shards);
    for (let step = 0; step < shards && this.#held.length < fair && this.#balancing(); step += 1) {
      const shard = (offset + step) % shards;
      if (this.#held.includes(shard) || (await port.claimed(shard))) continue;
      if (this.#balancing() && (await port.claim(shard))) this.#held.push(shard);
    }
  }

  /** Read through a method: the state changes while a pass awaits the broker. */
  #balancing(): boolean {
    return this.#state !== 'stopped';
  }

  async #pass(): Promise<void> {
    try {
      await this.balance();
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'shard balancing pass failed; trying again');
    }
  }

  async #run(): Promise<void> {
    const { intervalMs, timers, random } = this.#options;
    while (this.#state === 'balancing') {
      await sleep(timers, intervalMs * (0.5 + random()), this.#stop.signal);
      if (this.#state !== 'balancing') return;
      await this.#pass();
    }
  }
}
