-- The resolver's conflicts in the order they were recorded, for reads over all statuses in pages
-- (the policy dry run re-decides them oldest first; conflicts_by_status serves one status at a time).
CREATE INDEX conflicts_by_time ON conflicts (created_at, conflict_id);
