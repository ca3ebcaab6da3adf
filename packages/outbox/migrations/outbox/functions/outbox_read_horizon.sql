-- The read horizon, and whether rows of the held partitions wait above it.
--
-- The horizon is the position of the last row below the snapshot xmin, in any partition. A read (in the
-- same statement, so under the same snapshot) that returned fewer rows than it asked for has seen every
-- row of its partitions up to here: the relay's cursor, and its watermarks, move here rather than stay
-- behind rows of other relays' partitions (published rows stay in the pending index until cleanup, so a
-- cursor left behind would make every read walk them again).
--
-- `waiting`: rows of the held partitions committed but not yet below the snapshot xmin, because a
-- transaction that started before theirs still runs. Their NOTIFY woke the relay already and none comes
-- when the older transaction ends (unless it wrote outbox rows itself), so the relay looks again shortly
-- while rows wait, and otherwise sleeps until the next NOTIFY or poll.
--
-- Replaces the overload without partitions (horizon only), which no relay calls any more.
DROP FUNCTION IF EXISTS outbox_read_horizon();
CREATE OR REPLACE FUNCTION outbox_read_horizon(partitions int[], OUT horizon_tx xid8, OUT horizon_id bigint,
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
