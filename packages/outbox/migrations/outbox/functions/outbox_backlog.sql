-- Rows not yet settled, and the age of the oldest: a range of the pending index per partition, from its
-- watermark on.
CREATE OR REPLACE FUNCTION outbox_backlog(OUT pending int, OUT oldest_ms float8)
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
