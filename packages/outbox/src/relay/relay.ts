import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createWakeableLoop } from '@concord/bus';
import type { Pause, WakeableLoop } from '@concord/bus';
import { backoffDelay, silentLogger } from '@concord/core';
import type { Backoff, Logger } from '@concord/core';
import { trace } from '@opentelemetry/api';
import { DEFAULT_SCHEMA, outboxChannel, quoteSchema } from '../db/ident.js';
import type { Unlisten } from '../db/types.js';
import { relayBackoff } from './backoff.js';
import { Failures } from './failures.js';
import { cleanupPublished } from './cleanup.js';
import { Leases } from './leases.js';
import { Marker } from './marker.js';
import { Passes } from './pass.js';
import { Publisher } from './publisher.js';
import { LeaseRenewal } from './renewal.js';
import { relaySql } from './sql.js';
import type { RelaySql } from './sql.js';
import { StatsRecorder } from './stats.js';
import type { RelayCounters } from './stats.js';
import type { Relay, RelayOptions, RelayStats } from './types.js';

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

/** Creates a relay; call `start()` to run it. */
export const createRelay = (options: RelayOptions): Relay => new OutboxRelay(options);

class OutboxRelay implements Relay {
  readonly owner: string;
  readonly #o: Required<Omit<RelayOptions, 'owner' | 'schema' | 'backoff'>> & { backoff: Backoff };
  readonly #renewal: LeaseRenewal;
  readonly #sql: RelaySql;
  readonly #channel: string;
  readonly #leases: Leases;
  readonly #passes: Passes;
  readonly #stats: StatsRecorder;
  readonly #loop: WakeableLoop;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #started = false;
  #closing: Promise<void> | undefined;
  #unlisten: Unlisten | undefined;
  #outage = false;
  /** Broker outages in a row, for the backoff between them. */
  #outages = 0;
  /** Since when the passes have seen rows wait above the snapshot xmin. */
  #waitingSince: number | undefined;
  #leaseDueAt = 0;
  #cleanupDueAt = 0;

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
      backoff: relayBackoff(options.backoff),
      publishDeadLetters: options.publishDeadLetters ?? true,
      retentionMs: options.retentionMs ?? 24 * 3600_000,
      cleanupIntervalMs: options.cleanupIntervalMs ?? 60_000,
      logger: options.logger ?? silentLogger,
      tracer: options.tracer ?? trace.getTracer('@concord/outbox'),
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
      observer: options.observer ?? (() => undefined),
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
    this.#stats = new StatsRecorder(this.#o.observer);
    const marker = new Marker({
      db: this.#o.db,
      sql: this.#sql,
      leases: this.#leases,
      owner: this.owner,
      stats: this.#stats,
      logger: this.#log,
      onFenced: () => {
        this.#leaseDueAt = 0;
        this.#passes.resetCursor();
      },
    });
    const failures = new Failures({
      ...this.#o,
      sql: this.#sql,
      leases: this.#leases,
      owner: this.owner,
      stats: this.#stats,
      logger: this.#log,
    });
    this.#passes = new Passes({
      ...this.#o,
      sql: this.#sql,
      leases: this.#leases,
      publisher: new Publisher(this.#o.bus, this.#o.tracer, this.#stats),
      renewal: this.#renewal,
      marker,
      failures,
      logger: this.#log,
      mayContinue: () => this.#mayContinue(),
    });
    this.#loop = createWakeableLoop({
      step: () => this.#round(),
      pollIntervalMs: this.#o.pollIntervalMs,
      onError: (error, _failures, retryInMs) =>
        this.#log.warn({ err: error, retryInMs }, 'outbox relay iteration failed'),
      backoff: this.#o.backoff,
      // A NOTIFY does not cut a back-off short: only close does.
      wakeDuringBackoff: false,
      random: this.#o.random,
    });
  }

  start(): void {
    if (this.#started || this.#closing !== undefined) return;
    this.#started = true;
    // The first cleanup waits one interval: a relay that starts on a backlog publishes it first.
    this.#cleanupDueAt = this.#o.now() + this.#o.cleanupIntervalMs;
    this.#renewal.start();
    this.#loop.start();
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
    await this.#loop.close();
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

  /**
   * One round of the loop: lease maintenance and cleanup when due, a pass, and what to do next — back
   * off while the broker is unreachable (no NOTIFY cuts that short), go on at once after a full read,
   * look again soon while rows are held up by an older transaction, else sleep until the next commit's
   * NOTIFY (a notified commit is visible by then), the poll, or the next lease maintenance.
   */
  async #round(): Promise<boolean | Pause> {
    await this.#housekeeping();
    const result = await this.#passes.run(this.#leases.held());
    // Renewals failed for a while (or a lease was lost): the pass stopped before the leases ran out;
    // the next round of maintenance renews them before going on.
    if (result.leaseShort) this.#leaseDueAt = 0;
    this.#outage = result.outage;
    if (result.outage) {
      this.#outages += 1;
      return { ms: backoffDelay(this.#outages, this.#o.backoff, this.#o.random), wakeable: false };
    }
    this.#outages = 0;
    if (result.full) return true;
    const now = this.#o.now();
    this.#waitingSince = result.waiting ? (this.#waitingSince ?? now) : undefined;
    const untilLease = Math.max(1, this.#leaseDueAt - now);
    const delay =
      this.#waitingSince === undefined ? this.#o.pollIntervalMs : waitingPollMs(now - this.#waitingSince);
    return { ms: Math.min(delay, untilLease) };
  }

  async #housekeeping(): Promise<void> {
    // LISTEN (its own connection) is set up while the leases are maintained; #listen never rejects.
    const listening = this.#unlisten === undefined ? this.#listen() : undefined;
    const now = this.#o.now();
    try {
      if (now >= this.#leaseDueAt) {
        if (await this.#leases.maintain()) this.#passes.resetCursor();
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
        onNotify: () => this.#loop.wake(),
        onError: (error) => {
          this.#log.warn({ err: error }, 'outbox relay lost its LISTEN connection; polling');
          this.#unlisten = undefined;
        },
      });
    } catch (error) {
      this.#log.debug({ err: error }, 'outbox relay cannot LISTEN; polling');
    }
  }

  /** Whether a pass may read ahead: not closing, and no lease maintenance or cleanup due. */
  #mayContinue(): boolean {
    const now = this.#o.now();
    return !this.#stopped && now < this.#leaseDueAt && now < this.#cleanupDueAt;
  }
}
