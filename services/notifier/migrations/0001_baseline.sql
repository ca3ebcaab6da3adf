-- Notifier: webhook subscriptions, the notification log (SSE event ids, resumable streams; its NOTIFY
-- trigger is in functions/notifier_log_notify.sql) and webhook deliveries with their dead letters.
-- Runs with search_path set to the target schema (see @concord/outbox's migrate); names are unqualified.

CREATE TABLE notifier_subscriptions (
  id          text PRIMARY KEY,
  url         text NOT NULL,
  -- { eventTypes?, aggregateTypes?, aggregateIds?, outcomes?, topics? }, validated by the notifier.
  filter      jsonb NOT NULL DEFAULT '{}',
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per consumed message. `id` is the SSE event id. Streams read in (tx_id, id) order below the
-- snapshot's xmin, so a row that commits late is never skipped by a client resuming after a later id.
CREATE TABLE notifier_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  message_id      text NOT NULL UNIQUE,
  topic           text NOT NULL,
  kind            text NOT NULL,
  event_id        text,
  event_type      text,
  aggregate_type  text,
  aggregate_id    text,
  outcome         text,
  payload         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX notifier_log_order ON notifier_log (tx_id, id);

-- How far the notification log has been pruned (by the retention loop, service-kit retention.ts): every
-- row at or before (through_tx, through_id) in the log's (tx_id, id) order is gone or about to go (a row
-- whose deliveries are unfinished stays until they finish, but no stream reads it any more). `max_id` is
-- the greatest id the prune has passed, so a Last-Event-ID no longer in the log can be told apart from one
-- that never was. One row; a prune locks it (SKIP LOCKED), so instances pruning at once take turns
-- instead of racing.
CREATE TABLE notifier_log_pruned (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  through_tx  xid8 NOT NULL DEFAULT '0'::xid8,
  through_id  bigint NOT NULL DEFAULT 0,
  max_id      bigint NOT NULL DEFAULT 0,
  pruned_at   timestamptz
);
INSERT INTO notifier_log_pruned DEFAULT VALUES;

-- One row per (notification, matching subscription), written in the consumer's transaction. The
-- dispatcher moves `pending` rows into the job queue (outbox-like), so a queue outage after the commit
-- loses nothing. `id` is the X-Concord-Delivery-Id header and the job id. `traceparent`/`tracestate`:
-- the W3C trace context of the message that produced the delivery, so the delivery job and its HTTP
-- request continue that message's trace (DESIGN §8) however long the delivery waits.
CREATE TABLE notifier_deliveries (
  id               text PRIMARY KEY,
  notification_id  bigint NOT NULL REFERENCES notifier_log (id) ON DELETE CASCADE,
  subscription_id  text NOT NULL REFERENCES notifier_subscriptions (id) ON DELETE CASCADE,
  -- pending → queued → delivered | dead
  status           text NOT NULL DEFAULT 'pending',
  attempts         int NOT NULL DEFAULT 0,
  last_error       text,
  last_status      int,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  queued_at        timestamptz,
  finished_at      timestamptz,
  traceparent      text,
  tracestate       text
);

CREATE INDEX notifier_deliveries_pending ON notifier_deliveries (notification_id) WHERE status = 'pending';
CREATE INDEX notifier_deliveries_subscription ON notifier_deliveries (subscription_id);
-- Deleting a log row cascades to its deliveries, and the prune asks whether a row still has unfinished
-- deliveries: both look deliveries up by notification.
CREATE INDEX notifier_deliveries_notification ON notifier_deliveries (notification_id);
-- Finished deliveries in the order they finished, for their own (shorter) retention.
CREATE INDEX notifier_deliveries_finished ON notifier_deliveries (finished_at)
  WHERE status IN ('delivered', 'dead');

-- Deliveries that gave up after N attempts (or at once for a non-retryable error), with the last error.
-- Kept after the subscription is deleted.
CREATE TABLE notifier_dead_letters (
  delivery_id      text PRIMARY KEY,
  notification_id  bigint NOT NULL,
  subscription_id  text NOT NULL,
  url              text NOT NULL,
  attempts         int NOT NULL,
  error_code       text NOT NULL,
  last_error       text NOT NULL,
  last_status      int,
  dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX notifier_dead_letters_subscription ON notifier_dead_letters (subscription_id);
