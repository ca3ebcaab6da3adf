-- The W3C trace context of the message that produced each webhook delivery, so the delivery job and
-- its HTTP request continue that message's trace (DESIGN §8) however long the delivery waits.
ALTER TABLE notifier_deliveries ADD COLUMN traceparent text, ADD COLUMN tracestate text;
