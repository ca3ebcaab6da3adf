-- The event store's first step of an append as one call: take the batch's aggregate advisory locks, then
-- read. A VOLATILE function takes a fresh snapshot for each statement it runs, so the read after the locks
-- sees every commit of an earlier holder of those locks, which a single statement could not (its snapshot
-- is taken before it waits for a lock). One round trip instead of two.
--
-- $lock_keys: the advisory lock keys (taken in sorted order, so writers never deadlock); $types, $ids: the
-- batch's aggregates (sorted, distinct); $event_ids: its event ids. Creates the missing aggregates (keys
-- not found only: for an existing row an index probe is much cheaper than a speculative insert that
-- conflicts), reads the others, and looks up already-known event ids. Rows it creates come back in
-- `created`, rows it finds in `aggregates`, known events in `existing`. A key in neither was created by a
-- transaction that does not hold the lock (the caller locks those rows). Every key is looked up by its own
-- primary-key probe (a LATERAL subquery that OFFSET 0 keeps from being flattened into a join): the plan is
-- cached per connection, and a plan made while a table was small would otherwise scan the whole table for
-- every batch once it is large.
CREATE OR REPLACE FUNCTION store_prepare_batch(
  lock_keys text[], types text[], ids text[], event_ids text[],
  OUT aggregates json, OUT created json, OUT existing json)
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(s.k, 7368))
  FROM (SELECT k FROM unnest(lock_keys) AS k ORDER BY k) AS s;

  WITH keys AS (SELECT k.t, k.i FROM unnest(types, ids) AS k(t, i)),
  found AS (
    SELECT a.* FROM keys k CROSS JOIN LATERAL (
      SELECT a.aggregate_type, a.aggregate_id, a.version::float8 AS version, a.fields, a.field_versions,
        a.vector
      FROM aggregates a WHERE a.aggregate_type = k.t AND a.aggregate_id = k.i OFFSET 0) a),
  inserted AS (
    INSERT INTO aggregates (aggregate_type, aggregate_id)
    SELECT k.t, k.i FROM keys k
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.aggregate_type = k.t AND f.aggregate_id = k.i)
    ORDER BY k.t, k.i
    ON CONFLICT DO NOTHING
    RETURNING aggregate_type, aggregate_id)
  SELECT COALESCE((SELECT json_agg(f) FROM found f), '[]'),
    COALESCE((SELECT json_agg(json_build_array(c.aggregate_type, c.aggregate_id)) FROM inserted c), '[]'),
    COALESCE((SELECT json_agg(e) FROM unnest(event_ids) AS known(id) CROSS JOIN LATERAL (
      SELECT e.event_id, e.outcome, e.version::float8 AS version, e.conflict_id, e.details
      FROM events e WHERE e.event_id = known.id OFFSET 0) e), '[]')
  INTO aggregates, created, existing;
END
$$;
