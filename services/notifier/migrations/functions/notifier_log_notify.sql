-- Wakes the notifier's streams after a commit that wrote to the notification log: one NOTIFY per
-- statement on `<schema>_notifier`. The trigger is defined here with its function.
CREATE OR REPLACE FUNCTION notifier_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_TABLE_SCHEMA || '_notifier', '');
  RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER notifier_log_notify AFTER INSERT ON notifier_log
  FOR EACH STATEMENT EXECUTE FUNCTION notifier_log_notify();
