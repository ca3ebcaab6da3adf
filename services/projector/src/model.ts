import type { JsonObject } from '@concord/core';
import type { FieldVersion } from '@concord/core/conflict';
import type { Sql, Tx } from '@concord/outbox';

/** One aggregate as a read model holds it: what `GET /v1/aggregates/:type/:id` returns. */
export interface ProjectionRecord {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly fields: JsonObject;
  readonly fieldVersions: Readonly<Record<string, FieldVersion>>;
  /** The event whose change produced this version (absent for rows a rebuild wrote). */
  readonly eventId?: string;
  /** ISO-8601: when the change committed upstream. */
  readonly committedAt?: string;
  /** ISO-8601: when the read model last changed. */
  readonly updatedAt: string;
}

/** What a version-guarded write did: wrote a newer version, or found one at least as new. */
export type UpsertResult = 'applied' | 'stale';

/** Context of a live projection: the consumer's transaction (inbox, outbox and checkpoints share it). */
export interface ProjectionContext {
  readonly tx: Tx;
  /**
   * Runs `write` once `tx` committed (never if it rolls back). Given, backends `outsideTransaction`
   * are written there; without it they are written in the transaction, as the others.
   */
  readonly afterCommit?: (write: () => Promise<void>) => void;
}

/** Context of a read: a connection (or a transaction). */
export interface ReadContext {
  readonly sql: Sql;
}

/** Which aggregate types a rebuild covers: every one (`'*'`) or the listed ones. */
export type TypeScope = '*' | readonly string[];
