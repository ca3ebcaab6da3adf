import { DLQ_HEADERS, dlqTopic } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { backoffDelay, errorCode, isRetryable } from '@concord/core';
import type { Backoff, Logger } from '@concord/core';
import type { Database } from '../db/types.js';
import type { Leases } from './leases.js';
import type { OutboxRow } from './row.js';
import type { RelaySql } from './sql.js';
import type { StatsRecorder } from './stats.js';

export interface FailuresOptions {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly sql: RelaySql;
  readonly leases: Leases;
  readonly owner: string;
  readonly stats: StatsRecorder;
  readonly logger: Logger;
  readonly maxAttempts: number;
  /** The relay's backoff (`relayBackoff`). */
  readonly backoff: Backoff;
  readonly publishDeadLetters: boolean;
  readonly random: () => number;
  readonly now: () => number;
}

/** One failed attempt as it is kept in the row's error history. */
interface FailureEntry {
  readonly at: string;
  readonly attempt: number;
  readonly code: string;
  readonly message: string;
}

/**
 * What happens to a row the broker did not take: another attempt after a backoff with jitter (its key
 * waits meanwhile), or — when the error is not retryable or the attempts are used up — `<topic>.dlq`
 * when configured, then the dead-letter table with its error history. A dead letter the broker does not
 * take for now (a retryable error) is not moved: the row is tried again after a backoff, so it is not
 * lost to the broker. Both writes hold only under the lease of the row's partition.
 */
export class Failures {
  readonly #o: FailuresOptions;

  constructor(options: FailuresOptions) {
    this.#o = options;
  }

  async record(row: OutboxRow, error: unknown): Promise<void> {
    const attempt = row.attempts + 1;
    const entry: FailureEntry = {
      at: new Date(this.#o.now()).toISOString(),
      attempt,
      code: errorCode(error),
      message: error instanceof Error ? error.message : String(error),
    };
    const held = this.#o.leases.held(new Set([row.key_partition]));
    const lease = [held.partitions, held.fences, this.#o.owner];
    if (!isRetryable(error) || attempt >= this.#o.maxAttempts) {
      const dlqError = await this.#publishDeadLetter(row, entry);
      if (dlqError === undefined || !isRetryable(dlqError)) {
        const moved = await this.#o.db.query(this.#o.sql.deadLetter, [
          row.id,
          ...lease,
          JSON.stringify(entry),
        ]);
        if (moved.rowCount > 0) this.#o.stats.recordDeadLettered();
        this.#o.logger.warn(
          { messageId: row.message_id, topic: row.topic, ...entry },
          'outbox row dead-lettered',
        );
        return;
      }
      // `<topic>.dlq` did not take it either, for now: the row stays, and is tried again after a backoff.
      this.#o.logger.warn(
        { err: dlqError, messageId: row.message_id, topic: row.topic },
        'dead letter not published; the row stays in the outbox and is tried again',
      );
    }
    const delay = backoffDelay(attempt, this.#o.backoff, this.#o.random);
    await this.#o.db.query(this.#o.sql.markFailed, [row.id, ...lease, JSON.stringify(entry), delay]);
    this.#o.stats.recordFailedAttempt();
    this.#o.logger.info(
      { messageId: row.message_id, topic: row.topic, retryInMs: delay, ...entry },
      'publish failed',
    );
  }

  /**
   * Publishes the row to `<topic>.dlq` (when configured). Resolves with the error when the broker did not
   * take it; a non-retryable one leaves the row to the dead-letter table alone.
   */
  async #publishDeadLetter(row: OutboxRow, entry: FailureEntry): Promise<unknown> {
    if (!this.#o.publishDeadLetters) return undefined;
    try {
      await this.#o.bus.publish(dlqTopic(row.topic), [
        {
          id: row.message_id,
          key: row.key,
          payload: row.payload,
          headers: {
            ...row.headers,
            'message-id': row.message_id,
            [DLQ_HEADERS.errorCode]: entry.code,
            [DLQ_HEADERS.reason]: entry.message,
            [DLQ_HEADERS.attempts]: String(entry.attempt),
            [DLQ_HEADERS.originalTopic]: row.topic,
          },
        },
      ]);
      return undefined;
    } catch (error) {
      if (!isRetryable(error)) {
        this.#o.logger.warn(
          { err: error, messageId: row.message_id },
          'dead letter refused by the broker; kept in the dead-letter table only',
        );
      }
      return error;
    }
  }
}
