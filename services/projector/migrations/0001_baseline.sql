-- Projector: the Postgres read model (one row per aggregate, version-guarded upserts), checkpoints per
-- projection (aggregate type) and backend, and rebuilds from the event store with their staging rows.
-- Runs with search_path set to the target schema (see @concord/outbox's migrate); names are unqualified.

CREATE TABLE projections (
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  version         bigint NOT NULL,
  fields          jsonb NOT NULL,
  field_versions  jsonb NOT NULL,
  -- The event whose change produced this version.
  event_id        text,
  -- When the change committed upstream (null for rows a rebuild wrote).
  committed_at    timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE projection_checkpoints (
  projection        text NOT NULL,
  backend           text NOT NULL,
  last_message_id   text NOT NULL,
  last_event_id     text NOT NULL,
  last_aggregate_id text NOT NULL,
  last_version      bigint NOT NULL,
  last_committed_at timestamptz,
  projected         bigint NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (projection, backend)
);

-- A projection's checkpoint is spread over slots: each projector batch writes the slot after the one
-- the previous batch wrote (16 of them), so the batches a projector has in flight at once write
-- different rows. With one row per (projection, backend), every batch's update waited for the lock of
-- the batch before until that one committed: under load the projector's transactions queued there
-- (the update took ~1 ms on average, nearly all of it waiting), and every transaction that stays open
-- longer holds back what the outbox relays may read (they read below the snapshot xmin). Readers sum
-- `projected` over projection_checkpoints and the slots, and take the latest row for the last_* columns;
-- projection_checkpoints above is the one row per (projection, backend) that projectors before the
-- slots wrote. The slots have the checkpoint table's columns (and defaults), plus the slot.
CREATE TABLE projection_checkpoint_slots (
  LIKE projection_checkpoints INCLUDING DEFAULTS,
  slot smallint NOT NULL,
  PRIMARY KEY (projection, backend, slot)
);

CREATE TABLE projection_rebuilds (
  id              text PRIMARY KEY,
  -- null: every aggregate type
  aggregate_type  text,
  status          text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'abandoned')),
  events          bigint NOT NULL DEFAULT 0,
  aggregates      bigint NOT NULL DEFAULT 0,
  cursor          text,
  summary         jsonb,
  error           text,
  started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  heartbeat_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at     timestamptz
);

-- One rebuild at a time.
CREATE UNIQUE INDEX projection_rebuilds_running ON projection_rebuilds ((true)) WHERE status = 'running';

-- States a rebuild folds the event feed into before it swaps them in.
CREATE TABLE projection_rebuild_rows (
  rebuild_id      text NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  version         bigint NOT NULL,
  fields          jsonb NOT NULL,
  field_versions  jsonb NOT NULL,
  vector          jsonb NOT NULL,
  event_id        text,
  PRIMARY KEY (rebuild_id, aggregate_type, aggregate_id)
);
