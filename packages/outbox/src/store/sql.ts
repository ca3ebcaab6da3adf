import { tenantKeyText } from '../db/tenant.js';
import { outboxInsertSql } from '../outbox/writer.js';

/** SQL texts of the event store, bound to one (quoted) schema. */
export const storeSql = (schema: string) => {
  const t = (name: string) => `${schema}.${name}`;
  const eventColumns = `e.event_id, e.type, e.aggregate_type, e.aggregate_id, e.base_version::float8 AS base_version,
    e.clock, e.hlc, e.server_hlc, e.origin, e.data, e.metadata, e.outcome, e.version::float8 AS version,
    e.conflict_id, e.provenance`;
  // Rows come as one JSON array parameter each (see store.ts), so a batch's writes can share a statement.
  const insertEvents = (param: string) =>
    `INSERT INTO ${t('events')} (event_id, type, aggregate_type, aggregate_id, base_version, clock,
        hlc, server_hlc, origin, data, metadata, outcome, version, applied, conflict_id, details)
      SELECT * FROM jsonb_to_recordset(${param}::jsonb) AS r(event_id text, type text, aggregate_type text,
        aggregate_id text, base_version bigint, clock jsonb, hlc text, server_hlc text, origin text,
        data jsonb, metadata jsonb, outcome text, version bigint, applied boolean, conflict_id text,
        details jsonb)`;
  // An upsert rather than UPDATE … FROM: the conflict check always probes the primary key, whatever plan
  // a statement prepared while the table was small would otherwise keep (a hash join over a scan of every
  // aggregate). The rows exist already (prepareBatch creates them), so every row takes the update branch.
  const updateAggregates = (param: string) =>
    `INSERT INTO ${t('aggregates')} AS a (aggregate_type, aggregate_id, version, fields, field_versions, vector)
      SELECT * FROM jsonb_to_recordset(${param}::jsonb) AS u(aggregate_type text, aggregate_id text,
        version bigint, fields jsonb, field_versions jsonb, vector jsonb)
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
      SET version = EXCLUDED.version, fields = EXCLUDED.fields, field_versions = EXCLUDED.field_versions,
        vector = EXCLUDED.vector, updated_at = now()`;
  // $1 tx id, $2 position, $3 limit: applied events in commit order, only below the snapshot's xmin,
  // those `also` keeps.
  const feedSql = (also: string) =>
    `SELECT ${eventColumns}, e.tx_id::text AS tx_id, e.position::text AS position
      FROM ${t('events')} e
      WHERE e.applied AND (e.tx_id, e.position) > ($1::text::xid8, $2::bigint)
        AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ${also}
      ORDER BY e.tx_id, e.position
      LIMIT $3`;
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
    // $1 lock keys, $2 types, $3 ids (sorted, distinct), $4 event ids: locks, then creates, reads and
    // looks up in one round trip (migrations/store/functions/store_prepare_batch.sql says how).
    prepareBatch: `SELECT p.aggregates, p.created, p.existing FROM ${t('store_prepare_batch')}($1, $2, $3, $4) p`,
    // $1 event rows.
    insertEvents: insertEvents('$1'),
    // $1 aggregate rows.
    updateAggregates: updateAggregates('$1'),
    // All of a batch's writes in one round trip: $1 event rows, $2 aggregate rows, $3 outbox rows,
    // $4 outbox payloads.
    writeBatch: `WITH inserted AS (${insertEvents('$1')}), updated AS (${updateAggregates('$2')})
      ${outboxInsertSql(t('outbox'), '$3', '$4')}`,
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
    feed: feedSql(''),
    // $4 the tenant key: one tenant's applied events, through the events_feed_by_tenant index.
    feedOfTenant: feedSql(`AND ${tenantKeyText('e.event_id')} = $4::text`),
    // $1 type, $2 id, $3 tx id, $4 position, $5 limit: an aggregate's events of every outcome (the
    // resolver's changes among them) in commit order after a position. Writers of an aggregate take its
    // lock before their first write, so its rows commit in (tx id, position) order: none commits late
    // behind a page already read, and no xmin bound is needed as for the feed.
    history: `SELECT ${eventColumns}, e.details, e.outcome_history, e.recorded_at::text AS recorded_at,
        to_json(e.updated_at)#>>'{}' AS updated_at, e.tx_id::text AS tx_id, e.position::text AS position
      FROM ${t('events')} e
      WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND (e.tx_id, e.position) > ($3::text::xid8, $4::bigint)
      ORDER BY e.tx_id, e.position
      LIMIT $5`,
  };
};

export type StoreSql = ReturnType<typeof storeSql>;
