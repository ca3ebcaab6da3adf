/** SQL texts of the relay, bound to one schema. Lease checks lock the lease row (FOR SHARE), so a
 * relay that lost a partition cannot mark its rows: the new owner's fence bump either waits for the
 * marking statement, or the marking statement re-reads the lease and finds a different fence. */
export interface RelaySqlOptions {
  /** Commit marks without waiting for the WAL flush (see markPublished). */
  readonly asyncMark: boolean;
  /** Read payloads as base64 text (see read). */
  readonly payloadText: boolean;
}

export const relaySql = (schema: string, options: RelaySqlOptions) => {
  const t = (name: string) => `${schema}.${name}`;
  const validLeases = `valid AS (
      SELECT l.key_partition, l.fence FROM ${t('outbox_leases')} l
      JOIN unnest($2::int[], $3::bigint[]) AS f(key_partition, fence)
        ON f.key_partition = l.key_partition AND f.fence = l.fence
      WHERE l.owner = $4
      FOR SHARE OF l)`;
  return {
    // $1 partitions, $2 limit, $3/$4 optional cursor (tx id, id). The read itself is a function
    // (migrations/outbox/functions/outbox_relay_batch.sql) so that it always walks the pending index in
    // order, whatever the statistics say. One more row (id null) carries the read horizon
    // (outbox_read_horizon.sql, same statement and snapshot), with whether rows of these partitions wait
    // above it. On `pg` the
    // payload travels as base64 text: shorter than bytea's hex text form, and cheaper for both sides to
    // encode and decode. created_ms is float8 arithmetic (date_part): extract() computes in numeric,
    // which cost Postgres ~0.3 µs more per row read.
    read: `SELECT o.id::text AS id, o.tx_id::text AS tx_id, o.message_id, o.topic, o.key, o.key_partition,
        o.headers, ${options.payloadText ? `encode(o.payload, 'base64')` : 'o.payload'} AS payload,
        o.traceparent, o.tracestate, o.attempts,
        date_part('epoch', o.created_at) * 1000 AS created_ms,
        NULL::text AS horizon_tx, NULL::text AS horizon_id, NULL::boolean AS waiting
      FROM ${t('outbox_relay_batch')}($1::int[], $2::int, $3::text::xid8, $4::bigint) o
      UNION ALL
      SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        h.horizon_tx::text, h.horizon_id::text, h.waiting
      FROM ${t('outbox_read_horizon')}($1::int[]) h`,
    // $1 ids, $2/$3 partitions and fences held, $4 owner, $5/$6 the position of the batch's last row
    // when every row of the batch went through (the partitions' watermark moves there), else null (the
    // rows are marked one by one). One row comes back: how many rows were marked one by one, the database
    // clock (the relay computes each row's commit-to-confirm lag from it) and the partitions whose lease
    // held. A function (migrations/outbox/functions/outbox_mark_published.sql), so that its plan does not
    // depend on table statistics; PL/pgSQL, so the plan is made once per connection rather than per call.
    // The mark commits asynchronously (`synchronous_commit` off for its own transaction only): it does
    // not wait for the WAL flush. A mark lost with the last moments before a database crash leaves its
    // rows pending, so they are published again — what a relay crash between publish and mark does
    // anyway (at least once; consumers' inboxes absorb the duplicate). Leases, failures and dead
    // letters still commit synchronously. Not on PGlite: it has no WAL writer process to flush such
    // commits in the background, so there is nothing to gain from it there (the embedded pipeline's
    // latency was not measurably better with it; runs of bench:e2e --broker embedded vary widely).
    markPublished: `SELECT m.marked, m.at_ms, m.valid
      FROM ${t('outbox_mark_published')}($1::bigint[], $2::int[], $3::bigint[], $4::text, $5::text::xid8,
        $6::bigint) m${
          options.asyncMark
            ? `
        CROSS JOIN set_config('synchronous_commit', 'off', true) AS async_commit`
            : ''
        }`,
    // $1 id, $2/$3/$4 lease, $5 error json, $6 delay ms
    markFailed: `WITH ${validLeases}
      UPDATE ${t('outbox')} o SET attempts = o.attempts + 1,
        errors = o.errors || jsonb_build_array($5::jsonb),
        next_attempt_at = now() + $6 * interval '1 millisecond'
      FROM valid
      WHERE o.id = $1::bigint AND o.key_partition = valid.key_partition AND o.published_at IS NULL
      RETURNING o.id::text AS id`,
    // $1 id, $2/$3/$4 lease, $5 error json
    deadLetter: `WITH ${validLeases},
      moved AS (
        DELETE FROM ${t('outbox')} o USING valid
        WHERE o.id = $1::bigint AND o.key_partition = valid.key_partition AND o.published_at IS NULL
        RETURNING o.*)
      INSERT INTO ${t('outbox_dead_letters')}
        (id, tx_id, message_id, topic, key, headers, payload, traceparent, tracestate, created_at, attempts, errors)
      SELECT id, tx_id, message_id, topic, key, headers, payload, traceparent, tracestate, created_at,
        attempts + 1, errors || jsonb_build_array($5::jsonb)
      FROM moved
      RETURNING id::text AS id`,
    heartbeat: `INSERT INTO ${t('outbox_relays')} (owner, seen_at) VALUES ($1, now())
      ON CONFLICT (owner) DO UPDATE SET seen_at = now()`,
    forgetStale: `DELETE FROM ${t('outbox_relays')} WHERE seen_at < now() - $1 * interval '1 millisecond'`,
    forget: `DELETE FROM ${t('outbox_relays')} WHERE owner = $1`,
    census: `SELECT (SELECT count(*) FROM ${t('outbox_relays')}
        WHERE seen_at >= now() - $1 * interval '1 millisecond')::int AS live,
      (SELECT count(*) FROM ${t('outbox_leases')})::int AS partitions`,
    // $1 partitions, $2 fences, $3 owner, $4 ttl ms
    renew: `UPDATE ${t('outbox_leases')} l SET expires_at = now() + $4 * interval '1 millisecond'
      FROM unnest($1::int[], $2::bigint[]) AS f(key_partition, fence)
      WHERE l.key_partition = f.key_partition AND l.fence = f.fence AND l.owner = $3
      RETURNING l.key_partition`,
    release: `UPDATE ${t('outbox_leases')} l SET owner = NULL, expires_at = '-infinity'
      FROM unnest($1::int[], $2::bigint[]) AS f(key_partition, fence)
      WHERE l.key_partition = f.key_partition AND l.fence = f.fence AND l.owner = $3`,
    // $1 owner, $2 how many, $3 ttl ms
    acquire: `UPDATE ${t('outbox_leases')} l
      SET owner = $1, fence = l.fence + 1, expires_at = now() + $3 * interval '1 millisecond'
      WHERE l.key_partition IN (
        SELECT key_partition FROM ${t('outbox_leases')}
        WHERE expires_at < now() ORDER BY key_partition LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING l.key_partition, l.fence::text AS fence`,
    // $1 retention ms, $2 rows to look at, $3 after this id (functions/outbox_cleanup.sql)
    cleanup: `SELECT c.scanned, c.last_id::text AS last_id, c.deleted, c.reached_recent
      FROM ${t('outbox_cleanup')}($1::float8, $2::int, $3::bigint) c`,
    backlog: `SELECT b.pending, b.oldest_ms FROM ${t('outbox_backlog')}() b`,
    deadLetters: `SELECT count(*)::int AS n FROM ${t('outbox_dead_letters')}`,
  };
};

export type RelaySql = ReturnType<typeof relaySql>;
