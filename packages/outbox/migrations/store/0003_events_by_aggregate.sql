-- An aggregate's history (GET /v1/aggregates/:type/:id/history): its events of every outcome in commit
-- order, read in pages.
CREATE INDEX events_by_aggregate ON events (aggregate_type, aggregate_id, tx_id, position);
