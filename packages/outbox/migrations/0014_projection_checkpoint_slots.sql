-- A projection's checkpoint is spread over slots: each projector batch writes the slot after the one
-- the previous batch wrote (16 of them), so the batches a projector has in flight at once write
-- different rows. With one row per (projection, backend), every batch's update waited for the lock of
-- the batch before until that one committed: under load the projector's transactions queued there
-- (the update took ~1 ms on average, nearly all of it waiting), and every transaction that stays open
-- longer holds back what the outbox relays may read (they read below the snapshot xmin). Readers sum
-- `projected` over the slots and take the latest slot for the last_* columns. Existing rows are slot 0.
ALTER TABLE projection_checkpoints ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE projection_checkpoints DROP CONSTRAINT projection_checkpoints_pkey;
ALTER TABLE projection_checkpoints ADD PRIMARY KEY (projection, backend, slot);
