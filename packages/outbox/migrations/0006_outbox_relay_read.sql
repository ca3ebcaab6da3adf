-- The relay's read as a function, so its plan does not depend on table statistics. Pending rows are
-- normally a sliver of the outbox (published rows are kept for the retention period), so after a burst
-- — a broker outage, a bulk import, a fresh database — the planner expects a handful of pending rows
-- and would fetch and sort the whole backlog for each batch. Here the batch always comes off the
-- outbox_pending index in (tx_id, id) order and the scan stops after `batch_size` rows.
--
-- Reads the pending rows of the given key partitions below the snapshot's xmin (a transaction still
-- running has a larger id, so a late commit is never passed over), after the cursor (after_tx, after_id)
-- unless a retry in these partitions is due — then from the start, so that rows its key held back are
-- read again — and skips every key with a row waiting for its retry (per-key order).
CREATE FUNCTION outbox_relay_batch(partitions int[], batch_size int, after_tx xid8, after_id bigint)
  RETURNS SETOF outbox
  LANGUAGE sql STABLE
  SET enable_sort = off
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET search_path FROM CURRENT
AS $$
  WITH due AS MATERIALIZED (
    SELECT after_tx IS NULL OR EXISTS (
      SELECT 1 FROM outbox r
      WHERE r.published_at IS NULL AND r.next_attempt_at <= now() AND r.key_partition = ANY(partitions)
    ) AS from_start),
  bound AS MATERIALIZED (
    SELECT CASE WHEN from_start THEN '0'::xid8 ELSE after_tx END AS tx_id,
      CASE WHEN from_start THEN 0 ELSE after_id END AS id
    FROM due)
  SELECT o.* FROM outbox o
  WHERE o.published_at IS NULL
    AND o.key_partition = ANY(partitions)
    AND o.tx_id < pg_snapshot_xmin(pg_current_snapshot())
    AND (o.tx_id, o.id) > ((SELECT tx_id FROM bound), (SELECT id FROM bound))
    AND NOT EXISTS (
      SELECT 1 FROM outbox b
      WHERE b.published_at IS NULL AND b.next_attempt_at > now() AND b.topic = o.topic AND b.key = o.key)
  ORDER BY o.tx_id, o.id
  LIMIT batch_size
$$;
