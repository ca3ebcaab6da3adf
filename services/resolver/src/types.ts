import type { IncomingMessage } from '@concord/bus';
import type { DecisionRecord } from '@concord/core/decision';
import type { ConflictReads, LedgerDecidedBy } from './conflict-records.js';
import type { ReopenInput } from './reopen-input.js';

/** A decision that committed, for metrics. */
export interface DecisionObservation {
  readonly record: DecisionRecord;
  readonly decidedBy: LedgerDecidedBy;
  /** From detection (policy) or from the review's opening (human, timeout) to the commit. */
  readonly latencyMs: number | undefined;
  /** The aggregate had moved since detection, so the conflict was decided against the current state. */
  readonly redecided: boolean;
}

/** What settling a review answers (`POST /v1/conflicts/:id/decision`), or a reopen. */
export interface DecisionView {
  readonly conflictId: string;
  readonly status: DecisionRecord['outcome'];
  readonly version: number | undefined;
  readonly decision: DecisionRecord;
}

/**
 * The resolver: its decisions (the write side, each in one transaction) and the reads of its
 * conflicts and ledger.
 */
export interface Resolver {
  /** Reads of the conflicts and their ledger, for routes and metrics. */
  readonly conflicts: ConflictReads;
  /**
   * Handles one `concord.conflicts.detected` message; a redelivery changes nothing. Messages handled
   * concurrently (distinct aggregates) share a transaction; a failing one is retried alone.
   */
  handleDetected(message: IncomingMessage): Promise<'decided' | 'duplicate'>;
  /** `POST /v1/conflicts/:id/decision`: settles a pending review exactly like an automatic decision. */
  decideByHuman(conflictId: string, body: unknown): Promise<DecisionView>;
  /** Escalates up to `limit` overdue reviews; resolves with how many it settled. */
  escalateDue(limit?: number): Promise<number>;
  /**
   * `POST /v1/conflicts/:id/reopen`: a decided conflict back into review, or decided again by a policy,
   * as a new aggregate version; 409 while it is in review.
   */
  reopen(conflictId: string, input: ReopenInput): Promise<DecisionView>;
  /** Commits the conflicts waiting for a transaction; later ones fail retryably. Idempotent. */
  close(): Promise<void>;
}
