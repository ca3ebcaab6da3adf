-- Retention of the consumer side (issue 15): the inbox, the notification log and webhook deliveries are
-- pruned in bounded batches by each service's retention loop (service-kit retention.ts).

-- How far the notification log has been pruned: every row at or before (through_tx, through_id) in the
-- log's (tx_id, id) order is gone or about to go (a row whose deliveries are unfinished stays until they
-- finish, but no stream reads it any more). `max_id` is the greatest id the prune has passed, so a
-- Last-Event-ID no longer in the log can be told apart from one that never was. One row; a prune locks it
-- (SKIP LOCKED), so instances pruning at once take turns instead of racing.
CREATE TABLE notifier_log_pruned (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  through_tx  xid8 NOT NULL DEFAULT '0'::xid8,
  through_id  bigint NOT NULL DEFAULT 0,
  max_id      bigint NOT NULL DEFAULT 0,
  pruned_at   timestamptz
);
INSERT INTO notifier_log_pruned DEFAULT VALUES;

-- Deleting a log row cascades to its deliveries, and the prune asks whether a row still has unfinished
-- deliveries: both look deliveries up by notification (only pending ones were indexed).
CREATE INDEX notifier_deliveries_notification ON notifier_deliveries (notification_id);

-- Finished deliveries in the order they finished, for their own (shorter) retention.
CREATE INDEX notifier_deliveries_finished ON notifier_deliveries (finished_at)
  WHERE status IN ('delivered', 'dead');
