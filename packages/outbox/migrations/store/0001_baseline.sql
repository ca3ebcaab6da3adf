-- Event store: aggregates (current state, version, field versions, vector) and every received event
-- with its outcome. Global order of events is (tx_id, position); the pull feed reads below the
-- snapshot's xmin so events that commit late are never skipped. The append's first step
-- (store_prepare_batch) is in functions/.

CREATE TABLE aggregates (
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  version         bigint NOT NULL DEFAULT 0,
  fields          jsonb NOT NULL DEFAULT '{}',
  field_versions  jsonb NOT NULL DEFAULT '{}',
  vector          jsonb NOT NULL DEFAULT '{}',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE events (
  event_id        text PRIMARY KEY,
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  position        bigint GENERATED ALWAYS AS IDENTITY,
  type            text NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  base_version    bigint,
  clock           jsonb,
  hlc             text,
  origin          text,
  data            jsonb NOT NULL,
  metadata        jsonb,
  -- Current outcome (DESIGN §3); history keeps every earlier one.
  outcome         text NOT NULL,
  -- Aggregate version the event produced (applied/merged), else the version it was classified against.
  version         bigint,
  applied         boolean NOT NULL,
  conflict_id     text,
  details         jsonb NOT NULL DEFAULT '{}',
  outcome_history jsonb NOT NULL DEFAULT '[]',
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX events_order ON events (tx_id, position);
CREATE INDEX events_feed ON events (tx_id, position) WHERE applied;
CREATE INDEX events_aggregate ON events (aggregate_type, aggregate_id, version) WHERE applied;
CREATE INDEX events_open_outcomes ON events (outcome) WHERE outcome IN ('conflict', 'pending_review');
