-- Transactional outbox, relay leases, dead letters and the consumer inbox.
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
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE outbox_leases (
  key_partition int PRIMARY KEY,
  owner         text,
  -- Fencing token: incremented on every change of owner; rows are marked only under the current token.
  fence         bigint NOT NULL DEFAULT 0,
  expires_at    timestamptz NOT NULL DEFAULT '-infinity'
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
