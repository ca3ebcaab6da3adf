-- Every function here turns JIT compilation off: the planner settings that keep a plan on its indexes
-- make a sequential scan of the 16-row lease table look costly enough to compile, which took longer
-- (tens of ms) than the whole statement.
--
-- Publish watermarks per key partition. Marking every published row (an UPDATE per row: a new row
-- version, its index entries, WAL) cost more Postgres time than reading the row and competed with the
-- broker for the CPU. Now a clean batch moves its partitions' watermark instead: one small update of
-- each lease row, whatever the batch size.
--
-- A row is settled when it was published (or dead-lettered): it lies at or below its partition's
-- watermark (published_tx, published_id) in (tx_id, id) order, or it has published_at set. The
-- watermark moves only under the partition's current fence, only forwards, and only past rows that are
-- all settled: while a partition has a row waiting for a retry (its key blocked), the rows published
-- around it are marked one by one (published_at), and the watermark stays put until the retry went
-- through or the row was dead-lettered. Rows are never read below the snapshot xmin's horizon, so no
-- row can commit later below a watermark.
ALTER TABLE outbox_leases
  ADD COLUMN published_tx xid8 NOT NULL DEFAULT '0',
  ADD COLUMN published_id bigint NOT NULL DEFAULT 0;

-- Cleanup walks the primary key now (see outbox_cleanup); rows marked one by one are rare.
DROP INDEX outbox_published;

-- The read (replaces 0006): pending rows of the given partitions above their watermarks, in (tx_id, id)
-- order below the snapshot xmin, after the cursor (after_tx, after_id) — or from the lowest watermark of
-- these partitions when there is no cursor or a retry in them is due, so that rows a blocked key held
-- back are read again — skipping every key with a row waiting for its retry (per-key order).
-- PL/pgSQL, so the plan is made once per connection; the planner settings make that plan walk the
-- outbox_pending index in order and stop after `batch_size` rows whatever the statistics say (pending
-- rows are normally a sliver of the table, so after a burst a plain query was planned as "fetch and sort
-- the whole backlog").
DROP FUNCTION outbox_relay_batch(int[], int, xid8, bigint);
CREATE FUNCTION outbox_relay_batch(partitions int[], batch_size int, after_tx xid8, after_id bigint)
  RETURNS SETOF outbox
  LANGUAGE plpgsql STABLE
  SET enable_sort = off
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
DECLARE
  -- Watermarks indexed by key partition + 1 (the lease table holds partitions 0..15).
  marks_tx xid8[];
  marks_id bigint[];
  from_tx xid8 := after_tx;
  from_id bigint := after_id;
BEGIN
  SELECT array_agg(l.published_tx ORDER BY l.key_partition), array_agg(l.published_id ORDER BY l.key_partition)
    INTO marks_tx, marks_id
    FROM outbox_leases l;
  IF after_tx IS NULL OR EXISTS (
      SELECT 1 FROM outbox r
      WHERE r.published_at IS NULL AND r.next_attempt_at <= now() AND r.key_partition = ANY(partitions)) THEN
    SELECT l.published_tx, l.published_id INTO from_tx, from_id
      FROM outbox_leases l WHERE l.key_partition = ANY(partitions)
      ORDER BY l.published_tx, l.published_id LIMIT 1;
  END IF;
  RETURN QUERY
    SELECT o.* FROM outbox o
    WHERE o.published_at IS NULL
      AND o.key_partition = ANY(partitions)
      AND o.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      AND (o.tx_id, o.id) > (from_tx, from_id)
      AND (o.tx_id, o.id) > (marks_tx[o.key_partition + 1], marks_id[o.key_partition + 1])
      AND NOT EXISTS (
        SELECT 1 FROM outbox b
        WHERE b.published_at IS NULL AND b.next_attempt_at > now() AND b.topic = o.topic AND b.key = o.key)
    ORDER BY o.tx_id, o.id
    LIMIT batch_size;
END;
$$;

-- The mark (replaces 0008). Settles the given published rows under the fences held: partitions with no
-- other row waiting for a retry move their watermark up to (upto_tx, upto_id) — the last row of a batch
-- whose every row in these partitions went through — and the given rows of the others (or all of them,
-- when upto_tx is null: a batch that had a failure) are marked one by one by primary key. The lease rows
-- are locked (updated, or FOR SHARE), so a new owner's fence bump waits for this statement or this
-- statement sees the new fence and settles nothing there. Returns how many rows it marked one by one,
-- the database clock (for commit-to-confirm lag) and the partitions whose lease held.
DROP FUNCTION outbox_mark_published(bigint[], int[], bigint[], text, boolean);
CREATE FUNCTION outbox_mark_published(
  ids bigint[], partitions int[], fences bigint[], relay_owner text, upto_tx xid8, upto_id bigint,
  OUT marked int, OUT at_ms float8, OUT valid int[])
  LANGUAGE sql VOLATILE
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
  WITH blocked AS MATERIALIZED (
    SELECT DISTINCT b.key_partition FROM outbox b
    WHERE b.published_at IS NULL AND b.next_attempt_at IS NOT NULL
      AND b.key_partition = ANY(partitions) AND b.id <> ALL(ids)),
  advanced AS (
    UPDATE outbox_leases l SET
      published_tx = CASE WHEN (l.published_tx, l.published_id) < (upto_tx, upto_id) THEN upto_tx ELSE l.published_tx END,
      published_id = CASE WHEN (l.published_tx, l.published_id) < (upto_tx, upto_id) THEN upto_id ELSE l.published_id END
    FROM unnest(partitions, fences) AS f(key_partition, fence)
    WHERE upto_tx IS NOT NULL AND l.key_partition = f.key_partition AND l.fence = f.fence AND l.owner = relay_owner
      AND l.key_partition NOT IN (SELECT key_partition FROM blocked)
    RETURNING l.key_partition),
  one_by_one AS MATERIALIZED (
    SELECT l.key_partition, l.fence FROM outbox_leases l
    JOIN unnest(partitions, fences) AS f(key_partition, fence)
      ON f.key_partition = l.key_partition AND f.fence = l.fence
    WHERE l.owner = relay_owner
      AND (upto_tx IS NULL OR l.key_partition IN (SELECT key_partition FROM blocked))
    FOR SHARE OF l),
  updated AS (
    UPDATE outbox o SET published_at = clock_timestamp(),
      published_fence = (SELECT v.fence FROM one_by_one v WHERE v.key_partition = o.key_partition)
    FROM unnest(ids) AS b(id)
    WHERE EXISTS (SELECT 1 FROM one_by_one) AND o.id = b.id AND o.published_at IS NULL
      AND o.key_partition = ANY(ARRAY(SELECT v.key_partition FROM one_by_one v))
    RETURNING 1)
  SELECT (SELECT count(*) FROM updated)::int,
    (extract(epoch FROM clock_timestamp()) * 1000)::float8,
    ARRAY(SELECT key_partition FROM advanced UNION ALL SELECT key_partition FROM one_by_one)
$$;

-- Rows not yet settled, and the age of the oldest: a range of the pending index per partition, from its
-- watermark on.
CREATE FUNCTION outbox_backlog(OUT pending int, OUT oldest_ms float8)
  LANGUAGE sql STABLE
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
  SELECT count(*)::int,
    COALESCE((extract(epoch FROM clock_timestamp() - min(o.created_at)) * 1000)::float8, 0)
  FROM outbox_leases l
  CROSS JOIN LATERAL (
    SELECT p.created_at FROM outbox p
    WHERE p.published_at IS NULL AND (p.tx_id, p.id) > (l.published_tx, l.published_id)
      AND p.key_partition = l.key_partition) o
$$;

-- Deletes settled rows older than the retention period among the `chunk` rows after `after_id` in
-- primary-key order; a row settled by a watermark counts from when it was written, a row marked one by
-- one from when it was published. Returns how many rows it looked at, the last id it looked at, how many
-- it deleted, and whether it met a row younger than the retention period (the caller stops there).
CREATE FUNCTION outbox_cleanup(retention_ms float8, chunk int, after_id bigint,
  OUT scanned int, OUT last_id bigint, OUT deleted int, OUT reached_recent boolean)
  LANGUAGE sql VOLATILE
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
  WITH cutoff AS MATERIALIZED (SELECT now() - retention_ms * interval '1 millisecond' AS at),
  window_rows AS MATERIALIZED (
    SELECT o.id, o.tx_id, o.key_partition, o.created_at, o.published_at FROM outbox o
    WHERE o.id > after_id ORDER BY o.id LIMIT chunk),
  removed AS (
    DELETE FROM outbox o USING window_rows w, outbox_leases l
    WHERE o.id = w.id AND l.key_partition = w.key_partition
      AND (w.published_at < (SELECT at FROM cutoff)
        OR (w.published_at IS NULL AND w.created_at < (SELECT at FROM cutoff)
          AND (w.tx_id, w.id) <= (l.published_tx, l.published_id)))
    RETURNING 1)
  SELECT (SELECT count(*) FROM window_rows)::int,
    (SELECT max(id) FROM window_rows),
    (SELECT count(*) FROM removed)::int,
    COALESCE((SELECT bool_or(created_at >= (SELECT at FROM cutoff)) FROM window_rows), false)
$$;

-- The position of the last row below the snapshot xmin, in any partition. A read (in the same statement,
-- so under the same snapshot) that returned fewer rows than it asked for has seen every row of its
-- partitions up to here: the relay's cursor, and its watermarks, move here rather than stay behind rows
-- of other relays' partitions (published rows stay in the pending index until cleanup, so a cursor left
-- behind would make every read walk them again).
CREATE FUNCTION outbox_read_horizon(OUT horizon_tx xid8, OUT horizon_id bigint)
  LANGUAGE plpgsql STABLE
  SET enable_sort = off
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
BEGIN
  SELECT o.tx_id, o.id INTO horizon_tx, horizon_id FROM outbox o
  WHERE o.published_at IS NULL AND o.tx_id < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY o.tx_id DESC, o.id DESC
  LIMIT 1;
END;
$$;
