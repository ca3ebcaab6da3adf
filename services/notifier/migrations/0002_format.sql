-- A subscription's delivery format: `json` (the notification as Concord writes it) or `cloudevents` (the
-- notification as a structured-mode CloudEvent, `application/cloudevents+json`).

ALTER TABLE notifier_subscriptions
  ADD COLUMN format text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'cloudevents'));
