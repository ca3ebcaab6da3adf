-- Resolver: every conflict it handled (the review queue is the rows with status pending_review) and the
-- resolution ledger (one row per decision: provisional, final, by the policy, a person or a timeout).
-- Runs with search_path set to the target schema (see @concord/outbox's migrate); names are unqualified.

CREATE TABLE conflicts (
  conflict_id     text PRIMARY KEY,
  event_id        text NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending_review', 'resolved', 'rejected')),
  -- The conflict as it was decided (local side re-read from the aggregate under its lock).
  conflict        jsonb NOT NULL,
  -- The latest decision record (DecisionRecord of @concord/core) and its ledger row.
  decision        jsonb NOT NULL,
  ledger_id       bigint NOT NULL,
  rule            text,
  grp             text,
  strategy        text NOT NULL,
  -- Aggregate version after the latest applied change of this conflict (null: nothing applied).
  version         bigint,
  -- Id of the applied provisional change in the events table, while one is in place.
  provisional_event_id text,
  due_at          timestamptz,
  escalate_to     text,
  detected_at     timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE INDEX conflicts_by_status ON conflicts (status, created_at, conflict_id);
CREATE INDEX conflicts_due ON conflicts (due_at) WHERE status = 'pending_review' AND due_at IS NOT NULL;
-- Every conflict in the order it was recorded, for reads over all statuses in pages (the policy dry run
-- re-decides them oldest first; conflicts_by_status serves one status at a time).
CREATE INDEX conflicts_by_time ON conflicts (created_at, conflict_id);

CREATE TABLE resolution_ledger (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conflict_id     text NOT NULL,
  event_id        text NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('resolved', 'pending_review', 'rejected')),
  final           boolean NOT NULL,
  provisional     boolean NOT NULL,
  policy_name     text NOT NULL,
  policy_hash     text NOT NULL,
  rule            text,
  grp             text,
  strategy        text NOT NULL,
  -- policy | human | timeout
  decided_by      text NOT NULL,
  user_id         text,
  -- Aggregate version this decision produced (null: it applied nothing).
  version         bigint,
  record          jsonb NOT NULL,
  decided_at      timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- At most one final decision per conflict: a second one (a race of two reviewers) fails to commit.
CREATE UNIQUE INDEX resolution_ledger_final ON resolution_ledger (conflict_id) WHERE final;
CREATE INDEX resolution_ledger_conflict ON resolution_ledger (conflict_id, id);
