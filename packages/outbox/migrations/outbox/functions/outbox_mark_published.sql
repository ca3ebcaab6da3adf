-- The relay's mark. Settles the given published rows under the fences held: partitions with no other
-- row waiting for a retry move their watermark up to (upto_tx, upto_id) — the last row of a batch whose
-- every row in these partitions went through — and the given rows of the others (or all of them, when
-- upto_tx is null: a batch that had a failure) are marked one by one by primary key. The lease rows are
-- locked (updated, or FOR SHARE), so a new owner's fence bump waits for this statement or this
-- statement sees the new fence and settles nothing there. Returns how many rows it marked one by one,
-- the database clock (for commit-to-confirm lag) and the partitions whose lease held.
--
-- A row that failed before (next_attempt_at set) and goes through in a clean read is settled one by one
-- too: left unsettled below its partition's watermark it would count as a key waiting for a retry for
-- good, stop the watermark, and make every read of the partition start again there (rows already
-- published were read, and published, again).
--
-- A function for the reason the read is one: its plan must not depend on table statistics (as a plain
-- statement, `id = ANY(ids) AND published_at IS NULL` was planned as a bitmap scan of the whole
-- outbox_pending index whenever pending rows looked few). PL/pgSQL, because a LANGUAGE sql function that
-- cannot be inlined (this one sets planner options and modifies tables) is planned again on every call:
-- ~1 ms, about twice its execution, and the statement that cost Postgres most end to end
-- (pg_stat_statements, bench:e2e at 1,000/s). PL/pgSQL keeps the plan for the connection's life.
CREATE OR REPLACE FUNCTION outbox_mark_published(
  ids bigint[], partitions int[], fences bigint[], relay_owner text, upto_tx xid8, upto_id bigint,
  OUT marked int, OUT at_ms float8, OUT valid int[])
  LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
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
    RETURNING 1),
  -- Rows of the batch that failed before and went through now, in partitions whose watermark moved: the
  -- watermark passes them, but as rows waiting for a retry (next_attempt_at set) they would still count
  -- as blocking that partition. Settled one by one; only rows that failed are looked at (outbox_backoff).
  retried AS (
    UPDATE outbox o SET published_at = clock_timestamp(),
      published_fence = (SELECT f.fence FROM unnest(partitions, fences) AS f(key_partition, fence)
        WHERE f.key_partition = o.key_partition)
    WHERE o.published_at IS NULL AND o.next_attempt_at IS NOT NULL
      AND o.key_partition IN (SELECT key_partition FROM advanced) AND o.id = ANY(ids)
    RETURNING 1)
  SELECT ((SELECT count(*) FROM updated) + (SELECT count(*) FROM retried))::int,
    (extract(epoch FROM clock_timestamp()) * 1000)::float8,
    ARRAY(SELECT key_partition FROM advanced UNION ALL SELECT key_partition FROM one_by_one)
  INTO marked, at_ms, valid;
END;
$$;

-- Its planner settings and search path (migration 0003_function_settings).
SELECT outbox_function_settings('outbox_mark_published(bigint[], int[], bigint[], text, xid8, bigint)');
