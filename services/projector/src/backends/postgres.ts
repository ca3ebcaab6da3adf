import type { JsonObject } from '@concord/core';
import type { FieldVersion } from '@concord/core/conflict';
import { DEFAULT_SCHEMA, cast, insertRow, jsonb, raw, statement } from '@concord/outbox';
import type { Sql } from '@concord/outbox';
import type { ProjectionBackend, RebuildWriter } from '../backend.js';
import type { ProjectionRecord, TypeScope, UpsertResult } from '../model.js';
import { projectionTables } from '../tables.js';

export interface PostgresBackendOptions {
  /** Schema holding the projector's tables. Default `concord`. */
  readonly schema?: string;
  /** Backend name in checkpoints, metrics and projected messages. Default `postgres`. */
  readonly name?: string;
}

interface ProjectionRow {
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  fields: JsonObject;
  field_versions: Record<string, FieldVersion>;
  event_id: string | null;
  committed_at: string | null;
  updated_at: string;
}

const keyOf = (record: Pick<ProjectionRecord, 'type' | 'id'>): string =>
  JSON.stringify([record.type, record.id]);
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Indexes of `records` in rounds where every aggregate appears at most once, in order. */
const distinctRounds = (records: readonly ProjectionRecord[]): number[][] => {
  const rounds: number[][] = [];
  const seen = new Map<string, number>();
  records.forEach((record, i) => {
    const key = keyOf(record);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (rounds[round] ??= []).push(i);
  });
  return rounds;
};

const toRecord = (row: ProjectionRow): ProjectionRecord => ({
  type: row.aggregate_type,
  id: row.aggregate_id,
  version: row.version,
  fields: row.fields,
  fieldVersions: row.field_versions,
  ...(row.event_id === null ? {} : { eventId: row.event_id }),
  ...(row.committed_at === null ? {} : { committedAt: new Date(row.committed_at).toISOString() }),
  updatedAt: new Date(row.updated_at).toISOString(),
});

/**
 * The Postgres read model: every aggregate type, one row per aggregate. Upserts are version-guarded
 * and run in the consumer's transaction (with its inbox row); a rebuild locks the table against live
 * upserts for the duration of its swap, so none is lost.
 *
 * Cache fills (`readForFill`) and swaps also exclude each other, through an advisory lock per schema:
 * a fill holds it shared, a swap exclusively. `LOCK TABLE … EXCLUSIVE` does not block reads, so
 * without it a GET during a swap would read the committed pre-rebuild row and could fill the cache
 * with it after the cache dropped its keys; the rebuilt record, at the same version, would then lose
 * to it on the cache's version guard, and the cache would serve the pre-rebuild record until a newer
 * version came.
 */
export const createPostgresBackend = (options: PostgresBackendOptions = {}): ProjectionBackend => {
  const { projections } = projectionTables(options.schema);
  const swapLockKey = `concord.projections.swap.${options.schema ?? DEFAULT_SCHEMA}`;
  const columns = `aggregate_type, aggregate_id, version::float8 AS version, fields, field_versions, event_id,
    committed_at::text AS committed_at, updated_at::text AS updated_at`;

  const readOne = async (sql: Sql, type: string, id: string): Promise<ProjectionRecord | undefined> => {
    const { rows } = await sql.query<ProjectionRow>(
      `SELECT ${columns} FROM ${projections} WHERE aggregate_type = $1 AND aggregate_id = $2`,
      [type, id],
    );
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  };

  /** A newer version replaces the row; an older or equal one leaves it as it is. */
  const whenNewer = `ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
    SET version = excluded.version, fields = excluded.fields, field_versions = excluded.field_versions,
      event_id = excluded.event_id, committed_at = excluded.committed_at, updated_at = clock_timestamp()
    WHERE ${projections}.version < excluded.version`;

  /** One version-guarded INSERT of many records (of distinct aggregates), one array per column. */
  const upsertRows = (records: readonly ProjectionRecord[], returning = '') => {
    const column = (pick: (r: ProjectionRecord) => unknown, type: string) => cast(records.map(pick), type);
    return statement`INSERT INTO ${raw(projections)} (aggregate_type, aggregate_id, version, fields,
         field_versions, event_id, committed_at)
       SELECT * FROM unnest(${column((r) => r.type, 'text[]')}, ${column((r) => r.id, 'text[]')},
         ${column((r) => r.version, 'bigint[]')}, ${column((r) => JSON.stringify(r.fields), 'jsonb[]')},
         ${column((r) => JSON.stringify(r.fieldVersions), 'jsonb[]')},
         ${column((r) => r.eventId ?? null, 'text[]')}, ${column((r) => r.committedAt ?? null, 'timestamptz[]')})
       ${raw(whenNewer)} ${raw(returning)}`;
  };

  const insertMany = async (sql: Sql, records: readonly ProjectionRecord[]) => {
    if (records.length === 0) return;
    const insert = upsertRows(records);
    await sql.query(insert.text, insert.values);
  };

  /** One version-guarded statement for records of distinct aggregates; the keys it moved forward. */
  const upsertDistinct = async (sql: Sql, records: readonly ProjectionRecord[]): Promise<Set<string>> => {
    const sorted = [...records].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
    const upsert = upsertRows(sorted, 'RETURNING aggregate_type, aggregate_id');
    const { rows } = await sql.query<{ aggregate_type: string; aggregate_id: string }>(
      upsert.text,
      upsert.values,
    );
    return new Set(rows.map((row) => keyOf({ type: row.aggregate_type, id: row.aggregate_id })));
  };

  return {
    name: options.name ?? 'postgres',
    capabilities: {
      aggregateTypes: '*',
      modes: ['upsert', 'rebuild', 'read'],
      readOnly: false,
      readOrder: 100,
    },
    async upsert({ tx }, record) {
      const upsert = insertRow(
        projections,
        {
          aggregate_type: record.type,
          aggregate_id: record.id,
          version: record.version,
          fields: jsonb(record.fields),
          field_versions: jsonb(record.fieldVersions),
          event_id: record.eventId ?? null,
          committed_at: cast(record.committedAt ?? null, 'timestamptz'),
        },
        whenNewer,
      );
      const { rowCount } = await tx.query(upsert.text, upsert.values);
      return rowCount > 0 ? 'applied' : 'stale';
    },
    async upsertMany({ tx }, records) {
      const results: UpsertResult[] = [];
      // One statement per round; an aggregate named twice goes into a later round (a statement may
      // touch a row once), so the records apply as if upserted in turn.
      for (const round of distinctRounds(records)) {
        const moved = await upsertDistinct(
          tx,
          round.map((i) => records[i] as ProjectionRecord),
        );
        for (const i of round) {
          results[i] = moved.has(keyOf(records[i] as ProjectionRecord)) ? 'applied' : 'stale';
        }
      }
      return results;
    },
    read: ({ sql }, type, id) => readOne(sql, type, id),
    async readForFill({ tx }, type, id) {
      // Not while a swap runs (it would commit after this read); a swap that starts now waits for
      // this transaction, cache write included. The row is read after the lock, in a statement of
      // its own: its snapshot then holds any swap that committed before.
      const { rows: lock } = await tx.query<{ free: boolean }>(
        'SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0)) AS free',
        [swapLockKey],
      );
      return lock[0]?.free === true ? readOne(tx, type, id) : 'rebuilding';
    },
    async beginRebuild({ tx }, scope: TypeScope): Promise<RebuildWriter> {
      // Cache fills in progress finish first; later ones fill nothing until the swap commits.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [swapLockKey]);
      // Live upserts wait for the swap to commit, then apply on top of it (version-guarded).
      await tx.query(`LOCK TABLE ${projections} IN EXCLUSIVE MODE`);
      if (scope === '*') await tx.query(`DELETE FROM ${projections}`);
      else await tx.query(`DELETE FROM ${projections} WHERE aggregate_type = ANY($1::text[])`, [[...scope]]);
      return {
        write: (records) => insertMany(tx, records),
        finish: () => Promise.resolve(),
      };
    },
  };
};
