-- Wakes the relays after a commit that wrote outbox rows: one NOTIFY per statement on
-- `<schema>_outbox` (outboxChannel in src/db/ident.ts). The trigger is defined here with its function.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
  RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
