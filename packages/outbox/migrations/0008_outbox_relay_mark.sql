-- The relay's mark as a function, for the reason the read is one (0006): its plan must not depend on
-- table statistics. Written as a plain statement, `id = ANY(ids) AND published_at IS NULL` let the
-- planner AND the primary key with a bitmap scan of the whole outbox_pending index whenever it believed
-- pending rows were few — so marking a batch cost as much as the backlog (plus every index entry of a
-- row published since the last vacuum), once per batch. Here the batch's rows are found by primary key
-- alone.
--
-- Marks (or, with `remove`, deletes) the given rows that are still pending, but only in the partitions
-- whose lease this relay still holds under the given fencing tokens; the lease rows are locked FOR SHARE,
-- so a new owner's fence bump waits for this statement or this statement sees the new fence. Returns how
-- many rows it marked, the database clock (for commit-to-confirm lag) and the partitions whose lease held.
CREATE FUNCTION outbox_mark_published(
  ids bigint[], partitions int[], fences bigint[], relay_owner text, remove boolean,
  OUT marked int, OUT at_ms float8, OUT valid int[])
  LANGUAGE sql VOLATILE
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off
  SET search_path FROM CURRENT
AS $$
  WITH valid AS (
    SELECT l.key_partition, l.fence FROM outbox_leases l
    JOIN unnest(partitions, fences) AS f(key_partition, fence)
      ON f.key_partition = l.key_partition AND f.fence = l.fence
    WHERE l.owner = relay_owner
    FOR SHARE OF l),
  updated AS (
    UPDATE outbox o SET published_at = clock_timestamp(),
      published_fence = (SELECT v.fence FROM valid v WHERE v.key_partition = o.key_partition)
    FROM unnest(ids) AS b(id)
    WHERE NOT remove AND o.id = b.id AND o.published_at IS NULL
      AND o.key_partition = ANY(ARRAY(SELECT v.key_partition FROM valid v))
    RETURNING 1),
  deleted AS (
    DELETE FROM outbox o USING unnest(ids) AS b(id)
    WHERE remove AND o.id = b.id AND o.published_at IS NULL
      AND o.key_partition = ANY(ARRAY(SELECT v.key_partition FROM valid v))
    RETURNING 1)
  SELECT ((SELECT count(*) FROM updated) + (SELECT count(*) FROM deleted))::int,
    (extract(epoch FROM clock_timestamp()) * 1000)::float8,
    ARRAY(SELECT v.key_partition FROM valid v)
$$;
