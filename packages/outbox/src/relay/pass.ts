import type { Logger } from '@concord/core';
import type { Database } from '../db/types.js';
import type { Failures } from './failures.js';
import type { HeldLeases, Leases } from './leases.js';
import type { Marker } from './marker.js';
import type { PublishOutcome, Publisher } from './publisher.js';
import { later, readBatch } from './read.js';
import type { Cursor, ReadResult } from './read.js';
import type { LeaseRenewal } from './renewal.js';
import type { OutboxRow } from './row.js';
import type { RelaySql } from './sql.js';

/** How often an idle relay moves its watermarks up to what its reads have seen. */
const IDLE_MARK_INTERVAL_MS = 1000;

/**
 * Marks a pass may have running at once. A mark does not hold up the next batch's publish: only when
 * this many are pending does the pass wait for the oldest. A fenced mark still ends the pass; the
 * batches published meanwhile are republished by the partition's new owner (at least once, and each
 * relay publishes in order, so first deliveries stay in order per key).
 */
const MARKS_IN_FLIGHT = 2;

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** Never rejects, so a promise awaited later cannot become an unhandled rejection meanwhile. */
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );

const unwrap = <T>(settled: Settled<T>): T => {
  if (settled.ok) return settled.value;
  throw settled.error;
};

export interface PassOptions {
  readonly db: Database;
  readonly sql: RelaySql;
  readonly leases: Leases;
  readonly publisher: Publisher;
  readonly renewal: LeaseRenewal;
  readonly marker: Marker;
  readonly failures: Failures;
  readonly batchSize: number;
  readonly readSize: number;
  readonly leaseTtlMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  /** Whether a pass may read ahead: not closing, and no lease maintenance or cleanup due. */
  readonly mayContinue: () => boolean;
}

export interface PassResult {
  /** Rows read. */
  readonly read: number;
  /** The last read came back full, or the leases ran short: run the next pass at once. */
  readonly full: boolean;
  /** The broker is unreachable: the relay backs off as a whole. */
  readonly outage: boolean;
  /** The pass's last read saw rows of its partitions committed above the snapshot xmin. */
  readonly waiting: boolean;
  /** The leases ran short before a batch: maintain them before the next pass. */
  readonly leaseShort: boolean;
}

const NOTHING_HELD: PassResult = { read: 0, full: false, outage: false, waiting: false, leaseShort: false };

/** What publishing a read's rows came to. */
type BatchesOutcome = PublishOutcome & { readonly clean: boolean; readonly leaseShort: boolean };

/** What one pass has in flight and what it has seen so far. */
interface PassState {
  readonly held: HeldLeases;
  /** Rows the next read takes: the first read takes one publish batch, so publishing starts at once. */
  limit: number;
  /** The read running ahead while the previous read's rows are published; none when the pass stops reading. */
  reading: Promise<Settled<ReadResult>> | undefined;
  /**
   * Marks of published reads, oldest first; at most MARKS_IN_FLIGHT - 1 stay pending while the next
   * read's rows are published.
   */
  readonly marking: Promise<Settled<boolean>>[];
  /** Rows read so far. */
  read: number;
  /** The last read came back full: more rows may be waiting. */
  full: boolean;
  /** The last read saw rows of the partitions committed above the snapshot xmin. */
  waiting: boolean;
  /** How far the pass has seen: its last row read or, after a read that came back short, the horizon. */
  seen: Cursor | undefined;
  /** No mark settled so far was fenced. */
  allMarked: boolean;
}

/**
 * The relay's passes over its held partitions, pipelined: while a read's rows are being published (in
 * batches of `batchSize`), the next read runs (it starts after this read's last row), and up to
 * MARKS_IN_FLIGHT earlier reads are being marked. Publishing itself stays one batch at a time — a batch
 * starts only after the broker confirmed the previous one — so every key's rows go out in commit order.
 * The read-ahead rows are published only if the rows before went through cleanly and were not fenced;
 * otherwise they are dropped and the pass ends, so a key's later rows never overtake its failing row.
 * A pass also ends when its last read was not full, on close, and when lease maintenance or cleanup is
 * due. Between passes it keeps where the next read starts, when the watermarks of an idle relay move,
 * and how long the last publish took.
 */
export class Passes {
  readonly #o: PassOptions;
  /**
   * Where the next read starts: just after the last row of a batch that went through cleanly. Rows
   * that commit later always sort after it (they are read below the snapshot xmin, and a transaction
   * still running then has a larger id), so this only saves rescanning published rows. Any failure,
   * fence or lease change resets it, so rows of blocked keys are looked at again.
   */
  #cursor: Cursor | undefined;
  #idleMarkDueAt = 0;
  /** How long the last publish call took. */
  #lastPublishMs = 0;

  constructor(options: PassOptions) {
    this.#o = options;
  }

  /** The next pass reads from the partitions' watermarks (after a fence or a change of leases). */
  resetCursor(): void {
    this.#cursor = undefined;
  }

  async run(held: HeldLeases): Promise<PassResult> {
    if (held.partitions.length === 0) return NOTHING_HELD;
    const limit = Math.min(this.#o.batchSize, this.#o.readSize);
    const state: PassState = {
      held,
      limit,
      reading: settle(this.#read(held, this.#cursor, limit)),
      marking: [],
      read: 0,
      full: false,
      waiting: false,
      seen: undefined,
      allMarked: true,
    };
    try {
      while (state.reading !== undefined) {
        const rows = await this.#takeRead(state);
        if (rows === undefined) break;
        const outcome = await this.#publish(rows, held);
        if (!outcome.clean) return await this.#settleFailed(state, outcome);
        await this.#startMark(state, outcome.published);
        if (!state.allMarked) break;
      }
      return await this.#finish(state);
    } catch (error) {
      this.#cursor = undefined;
      throw error;
    } finally {
      // Whatever is still in flight settles before the next pass (its errors were reported already or
      // do not matter: an unused read-ahead, or a mark after the pass failed anyway).
      await state.reading;
      await Promise.all(state.marking);
    }
  }

  /**
   * Takes the read in flight and, when it came back full and the pass may go on, starts the next one
   * after it. Resolves with its rows, or undefined when it had none.
   */
  async #takeRead(state: PassState): Promise<readonly OutboxRow[] | undefined> {
    const reading = state.reading;
    state.reading = undefined;
    if (reading === undefined) return undefined;
    const { rows, horizon, waiting } = unwrap(await reading);
    state.waiting = waiting;
    state.full = rows.length === state.limit;
    const tail = rows.at(-1);
    // A read that came back short has seen every row of these partitions up to the horizon.
    const seen = later(
      tail === undefined ? undefined : { tx: tail.tx_id, id: tail.id },
      state.full ? undefined : horizon,
    );
    if (tail === undefined) {
      state.seen = later(state.seen ?? this.#cursor, seen);
      return undefined;
    }
    state.read += rows.length;
    state.seen = seen;
    state.limit = this.#o.readSize;
    if (state.full && this.#o.mayContinue()) {
      state.reading = settle(this.#read(state.held, seen, state.limit));
    }
    return rows;
  }

  /** Marks a clean read's rows in the background, first waiting for the oldest marks beyond MARKS_IN_FLIGHT - 1. */
  async #startMark(state: PassState, published: readonly OutboxRow[]): Promise<void> {
    if (state.marking.length >= MARKS_IN_FLIGHT) await this.#settleMarks(state, MARKS_IN_FLIGHT - 1);
    state.marking.push(settle(this.#o.marker.mark(published, state.held, state.seen)));
  }

  /** Waits for the oldest marks until `pending` are left, noting whether any was fenced. */
  async #settleMarks(state: PassState, pending: number): Promise<void> {
    while (state.marking.length > pending) {
      const oldest = state.marking.shift();
      if (oldest !== undefined) state.allMarked &&= unwrap(await oldest);
    }
  }

  /**
   * Ends a pass whose publish did not go through cleanly: once the earlier marks settled, marks what
   * was published (one by one) and records each key's failure; the next pass reads from the watermarks.
   */
  async #settleFailed(state: PassState, outcome: BatchesOutcome): Promise<PassResult> {
    await this.#settleMarks(state, 0);
    if (outcome.published.length > 0) await this.#o.marker.mark(outcome.published, state.held, undefined);
    for (const failure of outcome.failures) await this.#o.failures.record(failure.row, failure.error);
    this.#cursor = undefined;
    return {
      read: state.read,
      full: state.full || outcome.leaseShort,
      outage: outcome.outage,
      waiting: state.waiting,
      leaseShort: outcome.leaseShort,
    };
  }

  /** Ends a pass that published cleanly: waits for its marks and moves the cursor (or drops it after a fence). */
  async #finish(state: PassState): Promise<PassResult> {
    await this.#settleMarks(state, 0);
    if (state.read === 0 && state.seen !== undefined && this.#o.now() >= this.#idleMarkDueAt) {
      // Nothing of ours was pending, but other partitions' rows were written: move the watermarks
      // along, so that a relay taking these partitions over starts near here.
      this.#idleMarkDueAt = this.#o.now() + IDLE_MARK_INTERVAL_MS;
      state.allMarked = await this.#o.marker.mark([], state.held, state.seen);
    }
    this.#cursor = state.allMarked ? (state.seen ?? this.#cursor) : undefined;
    return { read: state.read, full: state.full, outage: false, waiting: state.waiting, leaseShort: false };
  }

  #read(held: HeldLeases, after: Cursor | undefined, limit: number): Promise<ReadResult> {
    return readBatch(this.#o.db, this.#o.sql, { partitions: held.partitions, after, limit });
  }

  /**
   * Publishes a read's rows in batches of `batchSize`, each starting after the broker confirmed the one
   * before; stops after the first batch that did not go through cleanly, so no later row of a failing
   * key is published. A batch starts only while the leases of `held` are all still held and valid for
   * longer than it may take ({@link #leaseMarginMs}); otherwise the read stops short (`leaseShort`), so
   * a pass never publishes past its leases.
   */
  async #publish(rows: readonly OutboxRow[], held: HeldLeases): Promise<BatchesOutcome> {
    const published: OutboxRow[] = [];
    for (let start = 0; start < rows.length; start += this.#o.batchSize) {
      if (!this.#o.leases.validFor(held, this.#leaseMarginMs())) {
        this.#o.logger.warn(
          { published: published.length, left: rows.length - start },
          'outbox relay leases run short; pass stopped',
        );
        return { published, failures: [], outage: false, clean: false, leaseShort: true };
      }
      const batch = rows.slice(start, start + this.#o.batchSize);
      const began = this.#o.now();
      const outcome = await this.#o.renewal.publishing(() => this.#o.publisher.publish(batch));
      this.#lastPublishMs = this.#o.now() - began;
      published.push(...outcome.published);
      if (outcome.failures.length > 0 || outcome.outage || outcome.published.length < batch.length) {
        return {
          published,
          failures: outcome.failures,
          outage: outcome.outage,
          clean: false,
          leaseShort: false,
        };
      }
    }
    return { published, failures: [], outage: false, clean: true, leaseShort: false };
  }

  /**
   * How long the leases must stay valid for a batch to start: as long as the last publish took, at
   * least a third of the TTL and at most two thirds. Renewals every third of the TTL keep more than two
   * thirds left while the database answers, so only failing renewals (or a publish that takes most of a
   * TTL) stop a pass.
   */
  #leaseMarginMs(): number {
    const ttl = this.#o.leaseTtlMs;
    return Math.min((2 * ttl) / 3, Math.max(ttl / 3, this.#lastPublishMs));
  }
}
