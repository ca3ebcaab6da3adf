-- A dead webhook delivery replayed (`POST /v1/dead-letters/webhook/...`) goes back to `pending` with a
-- fresh replay token: its job id becomes `r<token>-<delivery id>`, so the job queue, which remembers the
-- ids of finished jobs for a while, schedules it again. The delivery id itself — `webhook-id` — stays,
-- so receivers recognise a delivery they had taken. Null until the delivery is first replayed.
ALTER TABLE notifier_deliveries ADD COLUMN replay text;
