-- A tenant's pull feed (DESIGN §5 "Tenants"): its applied events in commit order, read without passing
-- other tenants' rows. The expression is the tenant of the scoped event id ('' for the default tenant),
-- as @concord/outbox's tenantKeyText writes it; the feed compares it with the caller's tenant.
CREATE INDEX events_feed_by_tenant ON events
  ((CASE WHEN strpos(event_id, chr(31)) = 0 THEN '' ELSE split_part(event_id, chr(31), 1) END), tx_id, position)
  WHERE applied;
