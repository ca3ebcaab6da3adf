import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { trace } from '@opentelemetry/api';
import { DEFAULT_SCHEMA, outboxChannel, quoteSchema } from '../db/ident.js';
import type { Unlisten } from '../db/types.js';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { Failures } from './failures.js';
import { cleanupPublished } from './cleanup.js';
import { Leases } from './leases.js';
import type { HeldLeases } from './leases.js';
import { Marker } from './marker.js';
import { Publisher } from './publisher.js';
import type { PublishOutcome } from './publisher.js';
import type { OutboxRow } from './row.js';
import { later, readBatch } from './read.js';
import type { Cursor, ReadResult } from './read.js';
import { LeaseRenewal } from './renewal.js';
import { relaySql } from './sql.js';
import type { RelaySql } from './sql.js';
import { StatsRecorder } from './stats.js';
import type { RelayCounters } from './stats.js';
import type { Relay, RelayOptions, RelayStats } from './types.js';
import { Waker } from './waker.js';

/** How often an idle relay moves its watermarks up to what its reads have seen. */
const IDLE_MARK_INTERVAL_MS = 1000;

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

interface DrainResult {
  readonly read: number;
  readonly full: boolean;
  readonly outage: boolean;
  /** The pass's last read saw rows of its partitions committed above the snapshot xmin. */
  readonly waiting: boolean;
}

/**
 * How long the relay sleeps while rows wait above the snapshot xmin, after waiting `waitedMs` so far:
 * such rows become readable when an older transaction ends, and that end sends no NOTIFY unless the
 * transaction wrote outbox rows too. For the first quarter second the relay looks again after half the
 * time waited, between 2 and 16 ms, so a short wait (a writer's transaction) is noticed within a few ms;
 * after that every 100 ms, so a long-running transaction anywhere in the cluster (it holds back every
 * relay) costs each relay ten reads a second.
 */
const waitingPollMs = (waitedMs: number): number =>
  waitedMs < 250 ? Math.min(16, Math.max(2, waitedMs / 2)) : 100;

/**
 * Marks a pass may have running at once. A mark does not hold up the next batch's publish: only when
 * this many are pending does the pass wait for the oldest. A fenced mark still ends the pass; the
 * batches published meanwhile are republished by the partition's new owner (at least once, and each
 * relay publishes in order, so first deliveries stay in order per key).
 */
const MARKS_IN_FLIGHT = 2;

/** Creates a relay; call `start()` to run it. */
export const createRelay = (options: RelayOptions): Relay => new OutboxRelay(options);

class OutboxRelay implements Relay {
  readonly owner: string;
  readonly #o: Required<Omit<RelayOptions, 'owner' | 'schema' | 'backoff'>> & { backoff: BackoffOptions };
  readonly #renewal: LeaseRenewal;
  readonly #sql: RelaySql;
  readonly #channel: string;
  readonly #leases: Leases;
  readonly #publisher: Publisher;
  readonly #failures: Failures;
  readonly #marker: Marker;
  readonly #stats: StatsRecorder;
  readonly #waker = new Waker();
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #unlisten: Unlisten | undefined;
  #outage = false;
  #leaseDueAt = 0;
  /**
   * Where the next read starts: just after the last row of a batch that went through cleanly. Rows
   * that commit later always sort after it (they are read below the snapshot xmin, and a transaction
   * still running then has a larger id), so this only saves rescanning published rows. Any failure,
   * fence or lease change resets it, so rows of blocked keys are looked at again.
   */
  #cursor: Cursor | undefined;
  #cleanupDueAt = 0;
  #idleMarkDueAt = 0;
  /** How long the last publish call took. */
  #lastPublishMs = 0;

  constructor(options: RelayOptions) {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#o = {
      db: options.db,
      bus: options.bus,
      batchSize: options.batchSize ?? 500,
      readSize: options.readSize ?? 4 * (options.batchSize ?? 500),
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      leaseTtlMs: options.leaseTtlMs ?? 10_000,
      stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
      maxAttempts: options.maxAttempts ?? 10,
      backoff: options.backoff ?? {},
      publishDeadLetters: options.publishDeadLetters ?? true,
      retentionMs: options.retentionMs ?? 24 * 3600_000,
      cleanupIntervalMs: options.cleanupIntervalMs ?? 60_000,
      logger: options.logger ?? silentLogger,
      tracer: options.tracer ?? trace.getTracer('@concord/outbox'),
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
    this.#log = this.#o.logger.child({ component: 'outbox-relay', owner: this.owner });
    const pg = this.#o.db.kind === 'pg';
    this.#sql = relaySql(quoteSchema(schema), { asyncMark: pg, payloadText: pg });
    this.#channel = outboxChannel(schema);
    this.#leases = new Leases({
      db: this.#o.db,
      sql: this.#sql,
      owner: this.owner,
      ttlMs: this.#o.leaseTtlMs,
      logger: this.#log,
      now: this.#o.now,
    });
    this.#renewal = new LeaseRenewal({
      leases: this.#leases,
      ttlMs: this.#o.leaseTtlMs,
      stallTimeoutMs: this.#o.stallTimeoutMs,
      now: this.#o.now,
      logger: this.#log,
    });
    this.#publisher = new Publisher(this.#o.bus, this.#o.tracer);
    this.#stats = new StatsRecorder(this.#o.now);
    this.#marker = new Marker({
      db: this.#o.db,
      sql: this.#sql,
      leases: this.#leases,
      owner: this.owner,
      stats: this.#stats,
      logger: this.#log,
      onFenced: () => {
        this.#leaseDueAt = 0;
        this.#cursor = undefined;
      },
    });
    this.#failures = new Failures({
      ...this.#o,
      sql: this.#sql,
      leases: this.#leases,
      owner: this.owner,
      stats: this.#stats,
      logger: this.#log,
    });
  }

  start(): void {
    if (this.#loop !== undefined || this.#closing !== undefined) return;
    // The first cleanup waits one interval: a relay that starts on a backlog publishes it first.
    this.#cleanupDueAt = this.#o.now() + this.#o.cleanupIntervalMs;
    this.#renewal.start();
    this.#loop = this.#run();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  counters(): RelayCounters {
    return this.#stats.snapshot();
  }

  async stats(): Promise<RelayStats> {
    const { rows } = await this.#o.db.query<{ pending: number; oldest_ms: number }>(this.#sql.backlog);
    const dead = await this.#o.db.query<{ n: number }>(this.#sql.deadLetters);
    return {
      ...this.#stats.snapshot(),
      owner: this.owner,
      partitions: this.#leases.partitions,
      pending: rows[0]?.pending ?? 0,
      oldestPendingAgeMs: rows[0]?.oldest_ms ?? 0,
      deadLetterRows: dead.rows[0]?.n ?? 0,
      brokerOutage: this.#outage,
    };
  }

  async #shutdown(): Promise<void> {
    this.#stop.abort();
    this.#waker.wake();
    await this.#loop;
    await this.#renewal.stop();
    try {
      await this.#leases.releaseAll();
    } catch (error) {
      this.#log.warn({ err: error }, 'outbox relay could not release its leases; they will expire');
    }
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let outages = 0;
    let waitingSince: number | undefined;
    while (!this.#stopped) {
      try {
        await this.#housekeeping();
        const result = await this.#drain();
        failures = 0;
        this.#outage = result.outage;
        if (result.outage) {
          outages += 1;
          await this.#sleep(backoffDelay(outages, this.#o.backoff, this.#o.random));
          continue;
        }
        outages = 0;
        if (result.full) continue;
        // Rows held up by an older transaction: look again soon. Otherwise the next commit's NOTIFY
        // wakes the relay (a notified commit is visible by then), or the poll does.
        const now = this.#o.now();
        waitingSince = result.waiting ? (waitingSince ?? now) : undefined;
        const untilLease = Math.max(1, this.#leaseDueAt - now);
        const delay = waitingSince === undefined ? this.#o.pollIntervalMs : waitingPollMs(now - waitingSince);
        await this.#waker.wait(Math.min(delay, untilLease));
      } catch (error) {
        failures += 1;
        const delay = backoffDelay(failures, this.#o.backoff, this.#o.random);
        this.#log.warn({ err: error, retryInMs: delay }, 'outbox relay iteration failed');
        await this.#sleep(delay);
      }
    }
  }

  async #housekeeping(): Promise<void> {
    // LISTEN (its own connection) is set up while the leases are maintained; #listen never rejects.
    const listening = this.#unlisten === undefined ? this.#listen() : undefined;
    const now = this.#o.now();
    try {
      if (now >= this.#leaseDueAt) {
        if (await this.#leases.maintain()) this.#cursor = undefined;
        this.#leaseDueAt = now + Math.floor(this.#o.leaseTtlMs / 3);
      }
    } finally {
      await listening;
    }
    if (now >= this.#cleanupDueAt) {
      this.#cleanupDueAt = now + this.#o.cleanupIntervalMs;
      await cleanupPublished(this.#o.db, this.#sql, this.#o.retentionMs, () => this.#stopped);
    }
  }

  async #listen(): Promise<void> {
    try {
      this.#unlisten = await this.#o.db.listen({
        channel: this.#channel,
        onNotify: () => this.#waker.wake(),
        onError: (error) => {
          this.#log.warn({ err: error }, 'outbox relay lost its LISTEN connection; polling');
          this.#unlisten = undefined;
        },
      });
    } catch (error) {
      this.#log.debug({ err: error }, 'outbox relay cannot LISTEN; polling');
    }
  }

  /**
   * One pass over the held partitions, pipelined: while a read's rows are being published (in batches
   * of `batchSize`), the next read runs (it starts after this read's last row), and up to
   * MARKS_IN_FLIGHT earlier reads are being marked. Publishing itself stays one batch at a time — a
   * batch starts only after the broker confirmed the previous one — so every key's rows go out in
   * commit order. The read-ahead rows are published only if the rows before went through cleanly and
   * were not fenced; otherwise they are dropped and the pass ends, so a key's later rows never overtake
   * its failing row. The pass also ends when its last read was not full, on close, and when lease
   * maintenance or cleanup is due.
   */
  async #drain(): Promise<DrainResult> {
    const held = this.#leases.held();
    if (held.partitions.length === 0) return { read: 0, full: false, outage: false, waiting: false };
    // The pass's first read is one publish batch, so publishing starts as soon as possible; the reads
    // ahead, which overlap publishing, take readSize rows.
    let limit = Math.min(this.#o.batchSize, this.#o.readSize);
    let reading: Promise<Settled<ReadResult>> | undefined = settle(this.#read(held, this.#cursor, limit));
    // Marks of published reads, oldest first; at most MARKS_IN_FLIGHT - 1 stay pending while the
    // next read's rows are published.
    const marking: Promise<Settled<boolean>>[] = [];
    let read = 0;
    let full = false;
    let waiting = false;
    let last: Cursor | undefined;
    let allMarked = true;
    const settleMarks = async (pending: number) => {
      while (marking.length > pending) {
        const oldest = marking.shift();
        if (oldest !== undefined) allMarked &&= unwrap(await oldest);
      }
    };
    try {
      while (reading !== undefined) {
        const result = unwrap(await reading);
        const { rows, horizon } = result;
        waiting = result.waiting;
        reading = undefined;
        full = rows.length === limit;
        const tail = rows.at(-1);
        // A read that came back short has seen every row of these partitions up to the horizon.
        const seen = later(
          tail === undefined ? undefined : { tx: tail.tx_id, id: tail.id },
          full ? undefined : horizon,
        );
        if (tail === undefined) {
          last = later(last ?? this.#cursor, seen);
          break;
        }
        read += rows.length;
        last = seen;
        limit = this.#o.readSize;
        if (full && this.#mayContinue()) reading = settle(this.#read(held, last, limit));
        const outcome = await this.#publish(rows, held);
        if (outcome.leaseShort) {
          // Renewals failed for a while (or a lease was lost): stop before the leases run out, settle
          // what went through, and let the next round of maintenance renew them before going on.
          this.#leaseDueAt = 0;
        }
        if (!outcome.clean) {
          await settleMarks(0);
          if (outcome.published.length > 0) await this.#marker.mark(outcome.published, held, undefined);
          for (const failure of outcome.failures) await this.#failures.record(failure.row, failure.error);
          this.#cursor = undefined;
          return { read, full: full || outcome.leaseShort, outage: outcome.outage, waiting };
        }
        if (marking.length >= MARKS_IN_FLIGHT) await settleMarks(MARKS_IN_FLIGHT - 1);
        marking.push(settle(this.#marker.mark(outcome.published, held, last)));
        if (!allMarked) break;
      }
      await settleMarks(0);
      if (read === 0 && last !== undefined && this.#o.now() >= this.#idleMarkDueAt) {
        // Nothing of ours was pending, but other partitions' rows were written: move the watermarks
        // along, so that a relay taking these partitions over starts near here.
        this.#idleMarkDueAt = this.#o.now() + IDLE_MARK_INTERVAL_MS;
        allMarked = await this.#marker.mark([], held, last);
      }
      this.#cursor = allMarked ? (last ?? this.#cursor) : undefined;
      return { read, full, outage: false, waiting };
    } catch (error) {
      this.#cursor = undefined;
      throw error;
    } finally {
      // Whatever is still in flight settles before the next pass (its errors were reported already or
      // do not matter: an unused read-ahead, or a mark after the pass failed anyway).
      await reading;
      await Promise.all(marking);
    }
  }

  /** Whether a pass may read ahead: not closing, and no lease maintenance or cleanup due. */
  #mayContinue(): boolean {
    const now = this.#o.now();
    return !this.#stopped && now < this.#leaseDueAt && now < this.#cleanupDueAt;
  }

  #read(held: HeldLeases, after: Cursor | undefined, limit: number): Promise<ReadResult> {
    return readBatch(this.#o.db, this.#sql, { partitions: held.partitions, after, limit });
  }

  /**
   * Publishes a read's rows in batches of `batchSize`, each starting after the broker confirmed the one
   * before; stops after the first batch that did not go through cleanly, so no later row of a failing
   * key is published. A batch starts only while the leases of `held` are all still held and valid for
   * longer than it may take ({@link #leaseMarginMs}); otherwise the read stops short (`leaseShort`), so
   * a pass never publishes past its leases.
   */
  async #publish(
    rows: readonly OutboxRow[],
    held: HeldLeases,
  ): Promise<PublishOutcome & { readonly clean: boolean; readonly leaseShort: boolean }> {
    const published: OutboxRow[] = [];
    for (let start = 0; start < rows.length; start += this.#o.batchSize) {
      if (!this.#leases.validFor(held, this.#leaseMarginMs())) {
        this.#log.warn(
          { published: published.length, left: rows.length - start },
          'outbox relay leases run short; pass stopped',
        );
        return { published, failures: [], outage: false, clean: false, leaseShort: true };
      }
      const batch = rows.slice(start, start + this.#o.batchSize);
      const began = this.#o.now();
      const outcome = await this.#renewal.publishing(() => this.#publisher.publish(batch));
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

  /** Sleeps, waking early only on close. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const timer = setTimeout(done, ms);
      const signal = this.#stop.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
