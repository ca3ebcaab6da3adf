-- Sender-side secret rotation: after `POST /v1/subscriptions/:id/secret`, the secret it replaced keeps
-- signing beside the new one until `previous_secret_expires_at`, so receivers can switch without
-- refusing a delivery in between (Standard Webhooks: one `v1,` signature per secret).

ALTER TABLE notifier_subscriptions
  ADD COLUMN previous_secret text,
  ADD COLUMN previous_secret_expires_at timestamptz;
