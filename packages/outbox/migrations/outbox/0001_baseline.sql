-- The outbox's tables: the transactional outbox, the relay's leases (with the partitions' publish
-- watermarks), live relays, dead letters and the consumer inbox. Its functions (read, mark, backlog,
-- cleanup, read horizon, the NOTIFY trigger) are in functions/, one file each, applied after this.
-- Runs with search_path set to the target schema (see src/migrate/runner.ts); names are unqualified.

CREATE TABLE outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Global order: the writing transaction's id, then id. Readers stay below pg_snapshot_xmin.
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  message_id      text NOT NULL,
  topic           text NOT NULL,
  key             text NOT NULL,
  -- Key partition: 16 partitions; the relay's lease rows below must match this modulus.
  key_partition   int NOT NULL GENERATED ALWAYS AS ((hashtextextended(key, 0) & 2147483647) % 16) STORED,
  headers         jsonb NOT NULL DEFAULT '{}',
  payload         bytea NOT NULL,
  traceparent     text,
  tracestate      text,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempts        int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  errors          jsonb NOT NULL DEFAULT '[]',
  published_at    timestamptz,
  published_fence bigint
);

CREATE INDEX outbox_pending ON outbox (tx_id, id) WHERE published_at IS NULL;
-- Keys waiting for a retry block their later rows; this stays tiny.
CREATE INDEX outbox_backoff ON outbox (topic, key) WHERE published_at IS NULL AND next_attempt_at IS NOT NULL;
-- Published rows have no index of their own: cleanup walks the primary key (outbox_cleanup), and rows
-- marked one by one are rare.

-- Publish watermarks per key partition. Marking every published row (an UPDATE per row: a new row
-- version, its index entries, WAL) cost more Postgres time than reading the row and competed with the
-- broker for the CPU. A clean batch moves its partitions' watermark instead: one small update of each
-- lease row, whatever the batch size.
--
-- A row is settled when it was published (or dead-lettered): it lies at or below its partition's
-- watermark (published_tx, published_id) in (tx_id, id) order, or it has published_at set. The
-- watermark moves only under the partition's current fence, only forwards, and only past rows that are
-- all settled: while a partition has a row waiting for a retry (its key blocked), the rows published
-- around it are marked one by one (published_at), and the watermark stays put until the retry went
-- through or the row was dead-lettered. Rows are never read below the snapshot xmin's horizon, so no
-- row can commit later below a watermark.
CREATE TABLE outbox_leases (
  key_partition int PRIMARY KEY,
  owner         text,
  -- Fencing token: incremented on every change of owner; rows are marked only under the current token.
  fence         bigint NOT NULL DEFAULT 0,
  expires_at    timestamptz NOT NULL DEFAULT '-infinity',
  published_tx  xid8 NOT NULL DEFAULT '0',
  published_id  bigint NOT NULL DEFAULT 0
);
INSERT INTO outbox_leases (key_partition) SELECT generate_series(0, 15);

CREATE TABLE outbox_relays (
  owner     text PRIMARY KEY,
  seen_at   timestamptz NOT NULL
);

CREATE TABLE outbox_dead_letters (
  id              bigint PRIMARY KEY,
  tx_id           xid8 NOT NULL,
  message_id      text NOT NULL,
  topic           text NOT NULL,
  key             text NOT NULL,
  headers         jsonb NOT NULL,
  payload         bytea NOT NULL,
  traceparent     text,
  tracestate      text,
  created_at      timestamptz NOT NULL,
  attempts        int NOT NULL,
  errors          jsonb NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE inbox (
  consumer    text NOT NULL,
  message_id  text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_received ON inbox (received_at);
