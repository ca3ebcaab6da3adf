-- Projector: the Postgres read model (one row per aggregate, version-guarded upserts), checkpoints per
-- projection (aggregate type) and backend, and rebuilds from the event store with their staging rows.

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
