-- The relay's read: pending rows of the given partitions above their watermarks, in (tx_id, id) order
-- below the snapshot xmin (a transaction still running has a larger id, so a late commit is never
-- passed over), after the cursor (after_tx, after_id) — or from the lowest watermark of these
-- partitions when there is no cursor or a retry in them is due, so that rows a blocked key held back are
-- read again — skipping every key with a row waiting for its retry (per-key order).
--
-- A function so that its plan does not depend on table statistics: pending rows are normally a sliver
-- of the outbox (published rows are kept for the retention period), so after a burst — a broker outage,
-- a bulk import, a fresh database — a plain query was planned as "fetch and sort the whole backlog",
-- once per batch. PL/pgSQL, so the plan is made once per connection; the planner settings make that
-- plan walk the outbox_pending index in order and stop after `batch_size` rows. JIT is off in every
-- outbox function: these planner settings make a sequential scan of the 16-row lease table look costly
-- enough to compile, which took longer (tens of ms) than the whole statement.
--
-- The per-row "is this key waiting for a retry?" probe is skipped when no row of the held partitions
-- waits for one — the usual case: the probe (an index lookup per row read) was more than half of the
-- function's time on a 2,000-row read. The check and the read run under the same snapshot (a STABLE
-- function sees its caller's), so a row that starts waiting meanwhile is not missed: it is seen by the
-- next read. Rows of one key are in one partition, so looking at the held partitions only is enough.
CREATE OR REPLACE FUNCTION outbox_relay_batch(partitions int[], batch_size int, after_tx xid8, after_id bigint)
  RETURNS SETOF outbox
  LANGUAGE plpgsql STABLE
  SET enable_sort = off
AS $$
DECLARE
  -- Watermarks indexed by key partition + 1 (the lease table holds partitions 0..15).
  marks_tx xid8[];
  marks_id bigint[];
  from_tx xid8 := after_tx;
  from_id bigint := after_id;
  -- Whether a row of these partitions waits for a retry (its key's later rows must not be read).
  waiting boolean;
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
  waiting := EXISTS (
    SELECT 1 FROM outbox w
    WHERE w.published_at IS NULL AND w.next_attempt_at > now() AND w.key_partition = ANY(partitions));
  RETURN QUERY
    SELECT o.* FROM outbox o
    WHERE o.published_at IS NULL
      AND o.key_partition = ANY(partitions)
      AND o.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      AND (o.tx_id, o.id) > (from_tx, from_id)
      AND (o.tx_id, o.id) > (marks_tx[o.key_partition + 1], marks_id[o.key_partition + 1])
      -- OR evaluates left to right and stops at the first true: no probe unless a key waits.
      AND (NOT waiting OR NOT EXISTS (
        SELECT 1 FROM outbox b
        WHERE b.published_at IS NULL AND b.next_attempt_at > now() AND b.topic = o.topic AND b.key = o.key))
    ORDER BY o.tx_id, o.id
    LIMIT batch_size;
END;
$$;

-- Its planner settings and search path (migration 0003_function_settings).
SELECT outbox_function_settings('outbox_relay_batch(int[], int, xid8, bigint)');
