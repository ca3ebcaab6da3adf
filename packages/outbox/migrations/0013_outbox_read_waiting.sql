-- The read horizon of the held partitions, and whether rows of those partitions wait above it: rows
-- committed but not yet below the snapshot xmin, because a transaction that started before theirs still
-- runs. Their NOTIFY woke the relay already and none comes when the older transaction ends (unless it
-- wrote outbox rows itself), so the relay looks again shortly while rows wait, and otherwise sleeps
-- until the next NOTIFY or poll. Without this the relay backed off blindly after a notification that
-- found nothing (5, 10, 20 … ms): a row held up by an older transaction waited for the next step of
-- that backoff, tens of milliseconds after the transaction ended. The horizon is 0010's; the old
-- function stays for relays of the previous version.
CREATE FUNCTION outbox_read_horizon(partitions int[], OUT horizon_tx xid8, OUT horizon_id bigint,
    OUT waiting boolean)
  LANGUAGE plpgsql STABLE
  SET enable_sort = off
  SET enable_bitmapscan = off
  SET enable_seqscan = off
  SET jit = off
  SET search_path FROM CURRENT
AS $$
DECLARE
  below xid8 := pg_snapshot_xmin(pg_current_snapshot());
BEGIN
  SELECT o.tx_id, o.id INTO horizon_tx, horizon_id FROM outbox o
  WHERE o.published_at IS NULL AND o.tx_id < below
  ORDER BY o.tx_id DESC, o.id DESC
  LIMIT 1;
  waiting := EXISTS (
    SELECT 1 FROM outbox w
    WHERE w.published_at IS NULL AND w.tx_id >= below AND w.key_partition = ANY(partitions));
END;
$$;
