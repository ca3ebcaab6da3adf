-- Dead letters of the bus: messages a consumer group gave up on (its handler failed for good), which the
-- bus published to `<topic>.dlq` with the cause in headers. Each service consumes its own groups'
-- `<topic>.dlq` into this table (service-kit's dead-letter module), where they are listed and replayed: a
-- replay writes the message back into the outbox, for its original topic, with the same message id.
-- One row per group and message: a dead letter delivered again is kept once.
CREATE TABLE bus_dead_letters (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer_group   text NOT NULL,
  message_id       text NOT NULL,
  -- The topic the group gave up on (not `<topic>.dlq`).
  topic            text NOT NULL,
  key              text NOT NULL,
  -- The message's own headers, without the dead-letter headers (their values are the columns below).
  headers          jsonb NOT NULL,
  payload          bytea NOT NULL,
  error_code       text NOT NULL,
  error            text NOT NULL,
  attempts         int NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (consumer_group, message_id)
);
