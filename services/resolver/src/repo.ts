import { ConcordError } from '@concord/core';
import { writeOf } from '@concord/core/conflict';
import type { JsonValue } from '@concord/core';
import type { Conflict, WriteProvenance } from '@concord/core/conflict';
import type { DecisionRecord } from '@concord/core/decision';
import type { VersionVector } from '@concord/core/versions';
import {
  cast,
  epochMs,
  insertRow,
  jsonb,
  outboxErrors,
  quoteSchema,
  raw,
  statement,
  tenantKeyText,
  tenantKey,
} from '@concord/outbox';
import type { Sql, Tx } from '@concord/outbox';
import type {
  ConflictRow,
  ConflictStatus,
  DueReviews,
  FieldsAt,
  FieldWrite,
  InsertConflict,
  LedgerDecidedBy,
  LedgerEntry,
  LedgerRow,
  ListOptions,
  ReopenConflict,
  ResolverRepo,
  UpdateConflict,
} from './conflict-records.js';
import { isStorableText } from './storable.js';

const CONFLICT_COLUMNS = `c.conflict_id, c.event_id, c.aggregate_type, c.aggregate_id, c.status, c.conflict,
  c.decision, c.ledger_id::float8 AS ledger_id, c.rule, c.grp, c.strategy, c.version::float8 AS version,
  c.provisional_event_id, to_json(c.due_at)#>>'{}' AS due_at, c.escalate_to,
  to_json(c.detected_at)#>>'{}' AS detected_at, to_json(c.created_at)#>>'{}' AS created_at,
  to_json(c.updated_at)#>>'{}' AS updated_at,
  (extract(epoch FROM c.created_at) * 1000)::float8 AS created_ms, c.reopens`;

interface RawConflict {
  conflict_id: string;
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  status: ConflictStatus;
  conflict: Conflict;
  decision: DecisionRecord;
  ledger_id: number;
  rule: string | null;
  grp: string | null;
  strategy: string;
  version: number | null;
  provisional_event_id: string | null;
  due_at: string | null;
  escalate_to: string | null;
  detected_at: string | null;
  created_at: string;
  updated_at: string;
  created_ms: number;
  reopens: number;
}

/** Postgres timestamps as ISO-8601 UTC (`…Z`). */
const isoOf = (text: string): string => new Date(text).toISOString();
const isoOrNull = (text: string | null): string | null => (text === null ? null : isoOf(text));

const toRow = (r: RawConflict): ConflictRow => ({
  conflictId: r.conflict_id,
  eventId: r.event_id,
  aggregateType: r.aggregate_type,
  aggregateId: r.aggregate_id,
  status: r.status,
  conflict: r.conflict,
  decision: r.decision,
  ledgerId: r.ledger_id,
  rule: r.rule,
  group: r.grp,
  strategy: r.strategy,
  version: r.version,
  provisionalEventId: r.provisional_event_id,
  dueAt: isoOrNull(r.due_at),
  escalateTo: r.escalate_to,
  detectedAt: isoOrNull(r.detected_at),
  createdAt: isoOf(r.created_at),
  updatedAt: isoOf(r.updated_at),
  createdMs: Math.round(r.created_ms),
  reopens: r.reopens,
});

const ms = (value: number): number => value / 1000;

const encodeCursor = (row: ConflictRow): string =>
  Buffer.from(JSON.stringify([row.createdMs, row.conflictId])).toString('base64url');

/** Latest instant a JavaScript Date holds (year 275760), well inside Postgres's timestamp range. */
const MAX_DATE_MS = 8.64e15;

/** A cursor's creation time is whole ms since 1970 a Date can hold; its id text Postgres can store. */
const isCursor = (parsed: unknown): parsed is [number, string] =>
  Array.isArray(parsed) &&
  parsed.length === 2 &&
  Number.isSafeInteger(parsed[0]) &&
  (parsed[0] as number) >= 0 &&
  (parsed[0] as number) <= MAX_DATE_MS &&
  typeof parsed[1] === 'string' &&
  isStorableText(parsed[1]);

const decodeCursor = (cursor: string): [number, string] => {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (isCursor(parsed)) return [parsed[0], parsed[1]];
  } catch {
    // reported below
  }
  throw new ConcordError(outboxErrors.INVALID_CURSOR, 'The cursor is not one this server issued', {
    details: { cursor },
  });
};

/**
 * The resolver's tables: `conflicts` (with the review queue) and `resolution_ledger`; and, to take a
 * provisional apply back, reads of the event store's applied rows.
 */
export const createResolverRepo = (schema: string): ResolverRepo => {
  const quoted = quoteSchema(schema);
  const conflicts = `${quoted}.conflicts`;
  const ledger = `${quoted}.resolution_ledger`;
  const events = `${quoted}.events`;
  // $1 status or null, $2 after (ms), $3 after conflict id, $4 limit: a page in (created_at, conflict_id)
  // order, those `also` keeps.
  const listPage = (also: string) =>
    `SELECT ${CONFLICT_COLUMNS} FROM ${conflicts} c
     WHERE ($1::text IS NULL OR c.status = $1)
       AND (c.created_at, c.conflict_id) > (to_timestamp($2::float8), $3::text) ${also}
     ORDER BY c.created_at, c.conflict_id LIMIT $4`;
  const listSql = listPage('');
  // $5 the tenant key: one tenant's conflicts, through the conflicts_by_tenant index.
  const listOfTenantSql = listPage(`AND ${tenantKeyText('c.conflict_id')} = $5::text`);
  return {
    async insertLedger(tx: Tx, entry: LedgerEntry): Promise<number> {
      const r = entry.record;
      const insert = insertRow(
        ledger,
        {
          conflict_id: r.conflictId,
          event_id: r.eventId,
          aggregate_type: r.aggregateType,
          aggregate_id: r.aggregateId,
          outcome: r.outcome,
          final: r.final,
          provisional: r.provisional,
          policy_name: r.policy.name,
          policy_hash: r.policy.hash,
          rule: r.rule ?? null,
          grp: r.group ?? null,
          strategy: r.strategy,
          decided_by: entry.decidedBy,
          user_id: r.decidedBy.kind === 'human' ? r.decidedBy.userId : null,
          version: entry.version ?? null,
          record: jsonb(r),
          decided_at: epochMs(r.decidedAt),
          round: entry.round ?? 0,
        },
        'RETURNING id::float8 AS id',
      );
      const { rows } = await tx.query<{ id: number }>(insert.text, insert.values);
      return rows[0]?.id ?? 0;
    },

    /** Inserts the conflict's row; false when the resolver already has it. */
    async insertConflict(tx: Tx, c: InsertConflict): Promise<boolean> {
      const r = c.record;
      const insert = insertRow(
        conflicts,
        {
          conflict_id: r.conflictId,
          event_id: r.eventId,
          aggregate_type: r.aggregateType,
          aggregate_id: r.aggregateId,
          status: r.outcome,
          conflict: jsonb(c.conflict),
          decision: jsonb(r),
          ledger_id: c.ledgerId,
          rule: r.rule ?? null,
          grp: r.group ?? null,
          strategy: r.strategy,
          version: c.version ?? null,
          provisional_event_id: c.provisionalEventId ?? null,
          due_at: epochMs(r.outcome === 'pending_review' ? r.review?.dueAt : null),
          escalate_to: r.review?.escalateTo ?? null,
          detected_at: cast(c.detectedAt ?? null, 'timestamptz'),
          created_at: epochMs(c.nowMs),
          updated_at: epochMs(c.nowMs),
        },
        'ON CONFLICT (conflict_id) DO NOTHING',
      );
      const { rowCount } = await tx.query(insert.text, insert.values);
      return rowCount === 1;
    },

    async exists(sql: Sql, conflictId: string): Promise<boolean> {
      const { rows } = await sql.query(`SELECT 1 FROM ${conflicts} WHERE conflict_id = $1`, [conflictId]);
      return rows.length > 0;
    },

    /** Undefined for an id no conflict can have (text Postgres cannot store). */
    async lockConflict(tx: Tx, conflictId: string): Promise<ConflictRow | undefined> {
      if (!isStorableText(conflictId)) return undefined;
      const { rows } = await tx.query<RawConflict>(
        `SELECT ${CONFLICT_COLUMNS} FROM ${conflicts} c WHERE c.conflict_id = $1 FOR UPDATE`,
        [conflictId],
      );
      return rows[0] === undefined ? undefined : toRow(rows[0]);
    },

    /** Locks one overdue review, skipping those another resolver instance holds. */
    async lockDueReview(tx: Tx, conflictId: string, nowMs: number): Promise<ConflictRow | undefined> {
      const { rows } = await tx.query<RawConflict>(
        `SELECT ${CONFLICT_COLUMNS} FROM ${conflicts} c
         WHERE c.conflict_id = $1 AND c.status = 'pending_review' AND c.due_at <= to_timestamp($2::float8)
         FOR UPDATE SKIP LOCKED`,
        [conflictId, ms(nowMs)],
      );
      return rows[0] === undefined ? undefined : toRow(rows[0]);
    },

    /** Ids of reviews due at `nowMs`, earliest first, but for those in `skip`. */
    async dueReviews(sql: Sql, due: DueReviews): Promise<string[]> {
      const { rows } = await sql.query<{ conflict_id: string }>(
        `SELECT c.conflict_id FROM ${conflicts} c
         WHERE c.status = 'pending_review' AND c.due_at <= to_timestamp($1::float8)
           AND c.conflict_id <> ALL($3::text[])
         ORDER BY c.due_at LIMIT $2`,
        [ms(due.nowMs), due.limit, due.skip ?? []],
      );
      return rows.map((row) => row.conflict_id);
    },

    async updateConflict(tx: Tx, u: UpdateConflict): Promise<void> {
      const update = statement`UPDATE ${raw(conflicts)}
         SET status = ${u.status}, decision = ${jsonb(u.record)}, ledger_id = ${u.ledgerId},
           strategy = ${u.record.strategy}, version = COALESCE(${u.version ?? null}, version),
           provisional_event_id = NULL, due_at = NULL, updated_at = ${epochMs(u.nowMs)}
         WHERE conflict_id = ${u.conflictId}`;
      await tx.query(update.text, update.values);
    },

    /** The reopen's decision, round and (when it opens a review) due time, escalation and provisional change. */
    async reopenConflict(tx: Tx, u: ReopenConflict): Promise<void> {
      const r = u.record;
      const pending = r.outcome === 'pending_review';
      const update = statement`UPDATE ${raw(conflicts)}
         SET status = ${r.outcome}, decision = ${jsonb(r)}, ledger_id = ${u.ledgerId}, rule = ${r.rule ?? null},
           grp = ${r.group ?? null}, strategy = ${r.strategy}, version = COALESCE(${u.version ?? null}, version),
           provisional_event_id = ${pending ? (u.provisionalEventId ?? null) : null},
           due_at = ${epochMs(pending ? r.review?.dueAt : null)},
           escalate_to = ${pending ? (r.review?.escalateTo ?? null) : null}, reopens = ${u.round},
           updated_at = ${epochMs(u.nowMs)}
         WHERE conflict_id = ${u.conflictId}`;
      await tx.query(update.text, update.values);
    },

    /** Undefined for an id no conflict can have (text Postgres cannot store). */
    async get(sql: Sql, conflictId: string): Promise<ConflictRow | undefined> {
      if (!isStorableText(conflictId)) return undefined;
      const { rows } = await sql.query<RawConflict>(
        `SELECT ${CONFLICT_COLUMNS} FROM ${conflicts} c WHERE c.conflict_id = $1`,
        [conflictId],
      );
      return rows[0] === undefined ? undefined : toRow(rows[0]);
    },

    async ledgerOf(sql: Sql, conflictId: string): Promise<LedgerRow[]> {
      const { rows } = await sql.query<{
        id: number;
        outcome: DecisionRecord['outcome'];
        final: boolean;
        provisional: boolean;
        decided_by: LedgerDecidedBy;
        user_id: string | null;
        strategy: string;
        rule: string | null;
        grp: string | null;
        version: number | null;
        decided_at: string;
        round: number;
        record: DecisionRecord;
      }>(
        `SELECT l.id::float8 AS id, l.outcome, l.final, l.provisional, l.decided_by, l.user_id, l.strategy,
           l.rule, l.grp, l.version::float8 AS version, to_json(l.decided_at)#>>'{}' AS decided_at, l.round,
           l.record
         FROM ${ledger} l WHERE l.conflict_id = $1 ORDER BY l.id`,
        [conflictId],
      );
      return rows.map((row) => ({
        id: row.id,
        outcome: row.outcome,
        final: row.final,
        provisional: row.provisional,
        decidedBy: row.decided_by,
        userId: row.user_id,
        strategy: row.strategy,
        rule: row.rule,
        group: row.grp,
        version: row.version,
        decidedAt: isoOf(row.decided_at),
        round: row.round,
        record: row.record,
      }));
    },

    /**
     * One page of the scope's conflicts in (created_at, conflict_id) order, oldest first. A conflict's id
     * is its event's, scoped as that is, so its tenant is the one the id names.
     */
    async list(sql: Sql, options: ListOptions): Promise<{ rows: ConflictRow[]; next?: string }> {
      const [afterMs, afterId] = options.after === undefined ? [-1, ''] : decodeCursor(options.after);
      const { scope } = options;
      const { rows } = await sql.query<RawConflict>(scope === undefined ? listSql : listOfTenantSql, [
        options.status ?? null,
        ms(afterMs),
        afterId,
        options.limit + 1,
        ...(scope === undefined ? [] : [tenantKey(scope.tenant)]),
      ]);
      const page = rows.slice(0, options.limit).map(toRow);
      const last = page.at(-1);
      return rows.length > options.limit && last !== undefined
        ? { rows: page, next: encodeCursor(last) }
        : { rows: page };
    },

    /**
     * What `fields` held in the aggregate at `version`, read from its applied rows in the event store
     * (they replay to the aggregate, and none is ever deleted); a field none had set by then is absent.
     */
    async fieldsAt(sql: Sql, at: FieldsAt): Promise<Record<string, FieldWrite>> {
      if (at.fields.length === 0) return {};
      const { rows } = await sql.query<{
        field: string;
        value: JsonValue;
        event_id: string;
        hlc: string | null;
        server_hlc: string | null;
        origin: string | null;
        source: JsonValue | null;
        clock: VersionVector | null;
        credited: WriteProvenance | null;
      }>(
        `SELECT f.field, w.* FROM unnest($4::text[]) AS f(field)
         CROSS JOIN LATERAL (
           SELECT e.data -> f.field AS value, e.event_id, e.hlc, e.server_hlc, e.origin,
             e.metadata -> 'source' AS source, e.clock, e.provenance -> f.field AS credited
           FROM ${events} e
           WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND e.applied AND e.version <= $3
             AND e.data ? f.field
           ORDER BY e.version DESC LIMIT 1) w`,
        [at.aggregateType, at.aggregateId, at.version, [...at.fields]],
      );
      // The write is the one the aggregate credited the field to then: a resolver's change names it,
      // a submitted event is its own.
      const writeOfRow = (row: (typeof rows)[number]): WriteProvenance =>
        row.credited ??
        writeOf({
          fields: {},
          eventId: row.event_id,
          ...(row.hlc === null ? {} : { hlc: row.hlc }),
          ...(row.server_hlc === null ? {} : { serverHlc: row.server_hlc }),
          ...(row.origin === null ? {} : { origin: row.origin }),
          ...(typeof row.source === 'string' ? { source: row.source } : {}),
          ...(row.clock === null ? {} : { clock: row.clock }),
        });
      return Object.fromEntries(rows.map((row) => [row.field, { value: row.value, write: writeOfRow(row) }]));
    },

    async policyDecisions(sql, page) {
      const { rows } = await sql.query<{
        conflict_id: string;
        conflict: Conflict;
        record: DecisionRecord;
        created_at: string;
      }>(
        `SELECT c.conflict_id, c.conflict, l.record, c.created_at::text AS created_at
         FROM ${conflicts} c
         CROSS JOIN LATERAL (
           SELECT record FROM ${ledger} WHERE conflict_id = c.conflict_id AND decided_by = 'policy'
           ORDER BY id LIMIT 1) l
         WHERE ($1::float8 IS NULL OR c.created_at >= to_timestamp($1::float8 / 1000))
           AND ($2::timestamptz IS NULL OR (c.created_at, c.conflict_id) > ($2::timestamptz, $3::text))
         ORDER BY c.created_at, c.conflict_id
         LIMIT $4`,
        [page.sinceMs ?? null, page.after?.createdAt ?? null, page.after?.conflictId ?? null, page.limit],
      );
      const last = rows.at(-1);
      return {
        rows: rows.map((row) => ({ conflict: row.conflict, decision: row.record })),
        ...(last === undefined || rows.length < page.limit
          ? {}
          : { next: { createdAt: last.created_at, conflictId: last.conflict_id } }),
      };
    },

    async queueStats(sql: Sql): Promise<{ depth: number; oldestMs: number | undefined }> {
      const { rows } = await sql.query<{ depth: number; oldest_ms: number | null }>(
        `SELECT count(*)::float8 AS depth, (extract(epoch FROM min(created_at)) * 1000)::float8 AS oldest_ms
         FROM ${conflicts} WHERE status = 'pending_review'`,
      );
      const row = rows[0];
      return { depth: row?.depth ?? 0, oldestMs: row?.oldest_ms ?? undefined };
    },
  };
};
