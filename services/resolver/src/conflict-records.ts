import type { JsonValue } from '@concord/core';
import type { Conflict, WriteProvenance } from '@concord/core/conflict';
import type { DecisionRecord } from '@concord/core/decision';
import type { Sql, TenantScope, Tx } from '@concord/outbox';

/** Conflict statuses the resolver keeps (DESIGN §3 outcomes after the resolver saw the conflict). */
export const CONFLICT_STATUSES = ['pending_review', 'resolved', 'rejected'] as const;
export type ConflictStatus = (typeof CONFLICT_STATUSES)[number];

/** Who made a ledger row's decision (`reopen`: a person reopened it, to review or re-decide). */
export type LedgerDecidedBy = 'policy' | 'human' | 'timeout' | 'reopen';

export interface ConflictRow {
  readonly conflictId: string;
  readonly eventId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly status: ConflictStatus;
  readonly conflict: Conflict;
  readonly decision: DecisionRecord;
  readonly ledgerId: number;
  readonly rule: string | null;
  readonly group: string | null;
  readonly strategy: string;
  readonly version: number | null;
  readonly provisionalEventId: string | null;
  readonly dueAt: string | null;
  readonly escalateTo: string | null;
  readonly detectedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** created_at in ms (pagination cursor). */
  readonly createdMs: number;
  /** How often it was reopened: its current round (0 until the first reopen). */
  readonly reopens: number;
}

export interface LedgerRow {
  readonly id: number;
  readonly outcome: DecisionRecord['outcome'];
  readonly final: boolean;
  readonly provisional: boolean;
  readonly decidedBy: LedgerDecidedBy;
  readonly userId: string | null;
  readonly strategy: string;
  readonly rule: string | null;
  readonly group: string | null;
  readonly version: number | null;
  readonly decidedAt: string;
  /** The conflict's round the decision belongs to (0 before any reopen). */
  readonly round: number;
  readonly record: DecisionRecord;
}

export interface LedgerEntry {
  readonly record: DecisionRecord;
  readonly version: number | undefined;
  readonly decidedBy: LedgerDecidedBy;
  /** The conflict's round (default 0). */
  readonly round?: number;
}

export interface InsertConflict {
  readonly conflict: Conflict;
  readonly record: DecisionRecord;
  readonly ledgerId: number;
  readonly version: number | undefined;
  readonly provisionalEventId: string | undefined;
  readonly detectedAt: string | undefined;
  readonly nowMs: number;
}

export interface UpdateConflict {
  readonly conflictId: string;
  readonly status: ConflictStatus;
  readonly record: DecisionRecord;
  readonly ledgerId: number;
  readonly version: number | undefined;
  readonly nowMs: number;
}

/** A reopen: the conflict's row takes the reopen's decision and round, and its review if it opens one. */
export interface ReopenConflict {
  readonly conflictId: string;
  readonly record: DecisionRecord;
  readonly ledgerId: number;
  readonly version: number | undefined;
  readonly round: number;
  /** The change whose values stand provisionally while the reopened conflict is in review. */
  readonly provisionalEventId: string | undefined;
  readonly nowMs: number;
}

export interface ListOptions {
  readonly status?: ConflictStatus;
  readonly after?: string;
  readonly limit: number;
  /** Whose conflicts: one tenant's (a caller's list), or every tenant's (`undefined`). */
  readonly scope: TenantScope;
}

/** A field's value at an earlier version and the write it came from. */
export interface FieldWrite {
  readonly value: JsonValue;
  readonly write: WriteProvenance;
}

/** The fields of an aggregate at a version, for taking a provisional apply back. */
export interface FieldsAt {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly fields: readonly string[];
}

/** Reviews due for escalation: the oldest first, `skip` left out (they failed this sweep). */
export interface DueReviews {
  readonly nowMs: number;
  readonly limit: number;
  readonly skip?: readonly string[];
}

/** A page of recorded conflicts with the decision their policy made, oldest first. */
export interface PolicyDecisionPage {
  readonly rows: ReadonlyArray<{ readonly conflict: Conflict; readonly decision: DecisionRecord }>;
  /** Where the next page starts; absent on the last page. */
  readonly next?: PolicyDecisionCursor;
}

/** A position in the conflicts' recorded order: created_at as Postgres prints it, then the id. */
export interface PolicyDecisionCursor {
  readonly createdAt: string;
  readonly conflictId: string;
}

/** The read side: what routes and metrics ask of the resolver's tables. */
export interface ConflictReads {
  exists(sql: Sql, conflictId: string): Promise<boolean>;
  get(sql: Sql, conflictId: string): Promise<ConflictRow | undefined>;
  ledgerOf(sql: Sql, conflictId: string): Promise<LedgerRow[]>;
  list(sql: Sql, options: ListOptions): Promise<{ rows: ConflictRow[]; next?: string }>;
  queueStats(sql: Sql): Promise<{ depth: number; oldestMs: number | undefined }>;
  /**
   * What `fields` held in the aggregate at `version`, each with the write it came from; a field none
   * had set by then is absent.
   */
  fieldsAt(sql: Sql, at: FieldsAt): Promise<Record<string, FieldWrite>>;
  /** Conflicts recorded at or after `sinceMs`, each with its policy's decision (the ledger's first). */
  policyDecisions(
    sql: Sql,
    page: { readonly sinceMs?: number; readonly after?: PolicyDecisionCursor; readonly limit: number },
  ): Promise<PolicyDecisionPage>;
}

/** The write side, inside a decision's transaction. */
export interface ConflictWrites {
  insertLedger(tx: Tx, entry: LedgerEntry): Promise<number>;
  /** Inserts the conflict's row; false when the resolver already has it. */
  insertConflict(tx: Tx, conflict: InsertConflict): Promise<boolean>;
  lockConflict(tx: Tx, conflictId: string): Promise<ConflictRow | undefined>;
  lockDueReview(tx: Tx, conflictId: string, nowMs: number): Promise<ConflictRow | undefined>;
  dueReviews(sql: Sql, due: DueReviews): Promise<string[]>;
  updateConflict(tx: Tx, update: UpdateConflict): Promise<void>;
  reopenConflict(tx: Tx, reopen: ReopenConflict): Promise<void>;
}

export interface ResolverRepo extends ConflictReads, ConflictWrites {}
