-- The settings of the outbox functions whose plans must not depend on table statistics (see
-- functions/outbox_relay_batch.sql): no bitmap or sequential scans, no hash or merge joins, so that they
-- walk the outbox's indexes in order; no JIT, which these settings make look worth compiling for scans
-- of a few rows; and the schema's search path as it is when the function is applied. A function file
-- calls it after its CREATE OR REPLACE, which resets a function's settings, so the settings are written
-- once, here, instead of in each function's header.
CREATE FUNCTION outbox_function_settings(fn regprocedure) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format(
    'ALTER FUNCTION %s SET enable_bitmapscan = off SET enable_seqscan = off SET enable_hashjoin = off '
    'SET enable_mergejoin = off SET jit = off SET search_path FROM CURRENT', fn);
END;
$$;
