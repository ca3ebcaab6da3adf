-- A tenant's conflicts list (DESIGN §5 "Tenants") in (created_at, conflict_id) order, read without passing
-- other tenants' rows. The expression is the tenant of the scoped conflict id ('' for the default tenant),
-- as @concord/outbox's tenantKeyText writes it; the list compares it with the caller's tenant.
CREATE INDEX conflicts_by_tenant ON conflicts
  ((CASE WHEN strpos(conflict_id, chr(31)) = 0 THEN '' ELSE split_part(conflict_id, chr(31), 1) END), created_at, conflict_id);
