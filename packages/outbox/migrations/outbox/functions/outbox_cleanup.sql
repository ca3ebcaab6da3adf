-- Deletes settled rows older than the retention period among the `chunk` rows after `after_id` in
-- primary-key order; a row settled by a watermark counts from when it was written, a row marked one by
-- one from when it was published. Returns how many rows it looked at, the last id it looked at, how many
-- it deleted, and whether it met a row younger than the retention period (the caller stops there).
CREATE OR REPLACE FUNCTION outbox_cleanup(retention_ms float8, chunk int, after_id bigint,
  OUT scanned int, OUT last_id bigint, OUT deleted int, OUT reached_recent boolean)
  LANGUAGE sql VOLATILE
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

-- Its planner settings and search path (migration 0003_function_settings).
SELECT outbox_function_settings('outbox_cleanup(float8, int, bigint)');
