-- Reopening a decided conflict (POST /v1/conflicts/:id/reopen) starts a new round of it: the conflict
-- counts its reopens, each ledger row names its round, and each round has at most one final decision.

ALTER TABLE conflicts ADD COLUMN reopens integer NOT NULL DEFAULT 0;

ALTER TABLE resolution_ledger ADD COLUMN round integer NOT NULL DEFAULT 0;

-- At most one final decision per conflict and round: a second one (a race of two reviewers, or of a
-- reviewer and a reopen) fails to commit.
DROP INDEX resolution_ledger_final;
CREATE UNIQUE INDEX resolution_ledger_final ON resolution_ledger (conflict_id, round) WHERE final;
