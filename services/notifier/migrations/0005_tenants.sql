-- Tenants (DESIGN §5 "Tenants"): a subscription belongs to the tenant of the caller who created it, a
-- notification to the tenant of its event (the prefix of its scoped event id, which every message
-- carries); NULL is the default tenant in both. A subscription is delivered, and a stream shows, only
-- its own tenant's notifications.

ALTER TABLE notifier_subscriptions ADD COLUMN tenant text;

ALTER TABLE notifier_log ADD COLUMN tenant text;
UPDATE notifier_log SET tenant = split_part(coalesce(event_id, message_id), chr(31), 1)
  WHERE strpos(coalesce(event_id, message_id), chr(31)) > 0;
-- A tenant's stream reads its own entries in log order: '' stands for the default tenant, as in the
-- reads' condition.
CREATE INDEX notifier_log_tenant_order ON notifier_log ((coalesce(tenant, '')), tx_id, id);
