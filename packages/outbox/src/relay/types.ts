import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import type { Tracer } from '@opentelemetry/api';
import type { Database } from '../db/types.js';
import type { BackoffOptions } from './backoff.js';
import type { RelayCounters, RelayObserver } from './stats.js';

export interface RelayOptions {
  readonly db: Database;
  readonly bus: MessageBus;
  /** Schema holding the outbox. Default `concord`. */
  readonly schema?: string;
  /** This instance's name in the lease table. Default host:pid:random. */
  readonly owner?: string;
  /** Rows per publish call (each awaited until the broker confirmed it). Default 500. */
  readonly batchSize?: number;
  /**
   * Rows per read, published in batches of `batchSize` one after the other and marked with one
   * statement. Default 4 × batchSize: a read or mark costs far more per statement than per row.
   */
  readonly readSize?: number;
  /** Polling fallback when no NOTIFY arrives. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /**
   * A partition lease lasts this long unless renewed. A timer of its own renews the leases every third
   * of it, whether a pass is running or not; a publish batch starts only while they have at least a
   * third of it left. Default 10_000 ms.
   */
  readonly leaseTtlMs?: number;
  /**
   * A relay stuck in one publish call for longer than this (a broker that never confirms) stops
   * renewing its leases, so another relay takes its partitions over. Default 60_000 ms (the RabbitMQ
   * adapter gives up on a publish after 30 s).
   */
  readonly stallTimeoutMs?: number;
  /** Failed attempts (broker reachable) before a row is dead-lettered. Default 10. */
  readonly maxAttempts?: number;
  /** Backoff of a failing key and of the whole relay while the broker is unreachable. */
  readonly backoff?: BackoffOptions;
  /** Also publish dead letters to `<topic>.dlq` (they always go to outbox_dead_letters). Default true. */
  readonly publishDeadLetters?: boolean;
  /**
   * Published rows are deleted once older than this — counted from when they were written, or, for the
   * rare rows marked one by one (published around a key waiting for a retry), from when they were
   * published. Default 24 h.
   */
  readonly retentionMs?: number;
  /** How often cleanup runs. Default 60_000 ms. */
  readonly cleanupIntervalMs?: number;
  readonly logger?: Logger;
  readonly tracer?: Tracer;
  readonly random?: () => number;
  readonly now?: () => number;
  /** Told of every publish, batch, failed attempt, dead letter and fence (service-kit's metrics). */
  readonly observer?: RelayObserver;
}

/** What /metrics reads: counters of this instance plus the outbox backlog. */
export interface RelayStats extends RelayCounters {
  readonly owner: string;
  readonly partitions: readonly number[];
  /** Rows not yet published (all partitions). */
  readonly pending: number;
  /** Age of the oldest unpublished row, in ms: the outbox lag. */
  readonly oldestPendingAgeMs: number;
  readonly deadLetterRows: number;
  /** The broker is unreachable; the relay is backing off. */
  readonly brokerOutage: boolean;
}

/** The outbox relay: publishes committed outbox rows through the bus. */
export interface Relay {
  readonly owner: string;
  /** Starts the relay loop in the background. Idempotent. */
  start(): void;
  /** Stops the loop after the batch in flight, gives its partitions back, stops listening. Idempotent. */
  close(): Promise<void>;
  stats(): Promise<RelayStats>;
  /** This instance's counters alone, without a database round trip. */
  counters(): RelayCounters;
}
