-- A projection's checkpoint is spread over slots: each projector batch writes the slot after the one
-- the previous batch wrote (16 of them), so the batches a projector has in flight at once write
-- different rows. With one row per (projection, backend), every batch's update waited for the lock of
-- the batch before until that one committed: under load the projector's transactions queued there
-- (the update took ~1 ms on average, nearly all of it waiting), and every transaction that stays open
-- longer holds back what the outbox relays may read (they read below the snapshot xmin). Readers sum
-- `projected` over projection_checkpoints and the slots, and take the latest row for the last_* columns.
-- projection_checkpoints stays as it is: projectors of the previous version keep writing it during a
-- rolling deploy, and what they wrote keeps counting.
-- The slots have the checkpoint table's columns (and defaults), plus the slot.
CREATE TABLE projection_checkpoint_slots (
  LIKE projection_checkpoints INCLUDING DEFAULTS,
  slot smallint NOT NULL,
  PRIMARY KEY (projection, backend, slot)
);
