import { outboxInsertSql } from '../outbox/writer.js';

/** SQL texts of the event store, bound to one (quoted) schema. */
export const storeSql = (schema: string) => {
  const t = (name: string) => `${schema}.${name}`;
  const eventColumns = `e.event_id, e.type, e.aggregate_type, e.aggregate_id, e.base_version::float8 AS base_version,
    e.clock, e.hlc, e.origin, e.data, e.metadata, e.outcome, e.version::float8 AS version, e.conflict_id`;
  // Rows come as one JSON array parameter each (see store.ts), so a batch's writes can share a statement.
  const insertEvents = (param: string) =>
    `INSERT INTO ${t('events')} (event_id, type, aggregate_type, aggregate_id, base_version, clock,
        hlc, origin, data, metadata, outcome, version, applied, conflict_id, details)
      SELECT * FROM json_to_recordset(${param}::json) AS r(event_id text, type text, aggregate_type text,
        aggregate_id text, base_version bigint, clock jsonb, hlc text, origin text, data jsonb, metadata jsonb,
        outcome text, version bigint, applied boolean, conflict_id text, details jsonb)`;
  const updateAggregates = (param: string) =>
    `UPDATE ${t('aggregates')} a
      SET version = u.version, fields = u.fields, field_versions = u.field_versions, vector = u.vector,
        updated_at = now()
      FROM json_to_recordset(${param}::json) AS u(aggregate_type text, aggregate_id text, version bigint,
        fields jsonb, field_versions jsonb, vector jsonb)
      WHERE a.aggregate_type = u.aggregate_type AND a.aggregate_id = u.aggregate_id`;
  return {
    // $1 lock keys: advisory locks (they assign no transaction id, as row locks would), sorted, so
    // writers never deadlock.
    advisoryLocks: `SELECT pg_advisory_xact_lock(hashtextextended(k, 7368))
      FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS sorted`,
    // $1 types, $2 ids: locks these aggregates in a fixed order (see prepareBatch).
    lockAggregates: `SELECT a.aggregate_type, a.aggregate_id, a.version::float8 AS version, a.fields,
        a.field_versions, a.vector
      FROM ${t('aggregates')} a JOIN unnest($1::text[], $2::text[]) AS k(t, i)
        ON a.aggregate_type = k.t AND a.aggregate_id = k.i
      ORDER BY a.aggregate_type, a.aggregate_id
      FOR UPDATE OF a`,
    // $1 types, $2 ids (sorted, distinct), $3 event ids. One round trip before classifying a batch:
    // creates its missing aggregates (keys not found only: for an existing row an index probe is much
    // cheaper than a speculative insert that conflicts), locks and reads the others (FOR UPDATE, in a fixed order), and
    // looks up already-known event ids. Rows this statement creates come back in `created` (they are
    // new, so nobody else can lock them), rows it finds in `aggregates` (current, locked), known events
    // in `existing`. A key in neither was created by a transaction that committed after this
    // statement's snapshot; store.ts locks those with `lockAggregates`.
    prepareBatch: `WITH keys AS (SELECT k.t, k.i FROM unnest($1::text[], $2::text[]) AS k(t, i)),
      created AS (
        INSERT INTO ${t('aggregates')} (aggregate_type, aggregate_id)
        SELECT k.t, k.i FROM keys k
        WHERE NOT EXISTS (
          SELECT 1 FROM ${t('aggregates')} x WHERE x.aggregate_type = k.t AND x.aggregate_id = k.i)
        ORDER BY k.t, k.i
        ON CONFLICT DO NOTHING
        RETURNING aggregate_type, aggregate_id),
      locked AS (
        SELECT a.aggregate_type, a.aggregate_id, a.version::float8 AS version, a.fields, a.field_versions,
          a.vector
        FROM ${t('aggregates')} a JOIN keys k ON a.aggregate_type = k.t AND a.aggregate_id = k.i
        ORDER BY a.aggregate_type, a.aggregate_id
        FOR UPDATE OF a)
      SELECT COALESCE((SELECT json_agg(l) FROM locked l), '[]') AS aggregates,
        COALESCE((SELECT json_agg(json_build_array(c.aggregate_type, c.aggregate_id)) FROM created c), '[]')
          AS created,
        COALESCE((SELECT json_agg(e) FROM (
          SELECT e.event_id, e.outcome, e.version::float8 AS version, e.conflict_id, e.details
          FROM ${t('events')} e WHERE e.event_id = ANY($3::text[])) e), '[]') AS existing`,
    // $1 event rows.
    insertEvents: insertEvents('$1'),
    // $1 aggregate rows.
    updateAggregates: updateAggregates('$1'),
    // All of a batch's writes in one round trip: $1 event rows, $2 aggregate rows, $3 outbox rows.
    writeBatch: `WITH inserted AS (${insertEvents('$1')}), updated AS (${updateAggregates('$2')})
      ${outboxInsertSql(t('outbox'), '$3')}`,
    getEvent: `SELECT ${eventColumns}, e.details, e.outcome_history, e.recorded_at::text AS recorded_at
      FROM ${t('events')} e WHERE e.event_id = $1`,
    getAggregate: `SELECT a.version::float8 AS version, a.fields, a.field_versions, a.vector
      FROM ${t('aggregates')} a WHERE a.aggregate_type = $1 AND a.aggregate_id = $2`,
    // $1 event id, $2 outcome, $3 details, $4 version or null
    recordOutcome: `UPDATE ${t('events')} e
      SET outcome_history = e.outcome_history || jsonb_build_array(jsonb_build_object(
            'outcome', e.outcome, 'at', e.updated_at, 'details', e.details)),
        outcome = $2, details = $3::jsonb, version = COALESCE($4::bigint, e.version), updated_at = now()
      WHERE e.event_id = $1
      RETURNING e.event_id`,
    // $1 tx id, $2 position, $3 limit: applied events in commit order, only below the snapshot's xmin.
    feed: `SELECT ${eventColumns}, e.tx_id::text AS tx_id, e.position::text AS position
      FROM ${t('events')} e
      WHERE e.applied AND (e.tx_id, e.position) > ($1::text::xid8, $2::bigint)
        AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY e.tx_id, e.position
      LIMIT $3`,
  };
};

export type StoreSql = ReturnType<typeof storeSql>;
