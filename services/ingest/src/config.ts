import {
  envInt,
  inboxRetentionEnvShape,
  loadConfig,
  serviceEnvShape,
  withBrokerUrls,
} from '@concord/service-kit';
import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * Default largest `POST /v1/events` body: 4 MiB, four times what the broker carries in one message
 * (core's `MAX_MESSAGE_BYTES`, 1,000,000 bytes, so a submit message holds at most ~1 MB of events). It
 * holds 16 events of the largest size (256 KiB) or 1000 of 4 KiB. A request's events are parsed,
 * validated and committed in memory at once; see the README for the memory a request costs per MiB.
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * MiB;

/**
 * Default most bytes one group-commit transaction takes (by the requests' bodies and the submit
 * messages' payloads): two largest requests. With `INGEST_GROUP_COMMIT_CONCURRENCY` it bounds the bytes
 * being committed at once; a larger request still commits alone.
 */
export const DEFAULT_GROUP_COMMIT_BYTES = 8 * MiB;

/** The ingest service's environment: the shared service variables plus its own limits and tuning. */
export const ingestEnvSchema = withBrokerUrls(
  z.object({
    ...serviceEnvShape,
    /** Most events in one HTTP batch or submit message (DESIGN §2: 1000). */
    INGEST_MAX_BATCH_EVENTS: envInt(1000, { min: 1, max: 10_000 }),
    /** Largest event, as the UTF-8 bytes of its JSON form (DESIGN §2: 256 KiB). */
    INGEST_MAX_EVENT_BYTES: envInt(256 * 1024, { min: 1024, max: 16 * MiB }),
    /** Largest `POST /v1/events` body; larger bodies get 413 `CONCORD_BODY_TOO_LARGE`. */
    INGEST_MAX_BODY_BYTES: envInt(DEFAULT_MAX_BODY_BYTES, { min: 1024, max: 64 * MiB }),
    /** Most events one group-commit transaction appends (a larger request still commits alone). */
    INGEST_GROUP_COMMIT_EVENTS: envInt(1000, { min: 1, max: 100_000 }),
    /** Most bytes (request bodies, submit payloads) one group-commit transaction takes. */
    INGEST_GROUP_COMMIT_BYTES: envInt(DEFAULT_GROUP_COMMIT_BYTES, { min: 1024, max: 256 * MiB }),
    /** How long the first queued request waits for others to share its transaction. */
    INGEST_GROUP_COMMIT_LINGER_MS: envInt(2, { min: 0, max: 1000 }),
    /** Group-commit transactions in flight at once. */
    INGEST_GROUP_COMMIT_CONCURRENCY: envInt(4, { min: 1, max: 64 }),
    /** Submit-topic messages handled at once (per-key order always holds). */
    INGEST_SUBMIT_CONCURRENCY: envInt(64, { min: 1, max: 1024 }),
    /**
     * Admission control (DESIGN §7): above any of these bounds `POST /v1/events` answers 429
     * `CONCORD_OVERLOADED` and the submit consumer holds its messages; 0 turns a bound off. Unpublished
     * outbox rows (every service's), the age of the oldest, and the messages waiting for the most
     * loaded downstream consumer group (queue depth on RabbitMQ, group lag on Kafka).
     */
    INGEST_ADMISSION_MAX_OUTBOX_ROWS: envInt(2_000),
    INGEST_ADMISSION_MAX_OUTBOX_LAG_MS: envInt(0),
    INGEST_ADMISSION_MAX_CONSUMER_LAG: envInt(1_000),
    /** How often the backlog is sampled (never per request). */
    INGEST_ADMISSION_SAMPLE_MS: envInt(250, { min: 50, max: 60_000 }),
    /** The `Retry-After` of a 429, in seconds. */
    INGEST_ADMISSION_RETRY_AFTER_S: envInt(1, { min: 1, max: 3600 }),
    /**
     * A downstream group's lag that has not fallen for this long while ingest refused stops counting
     * until it falls again: refusing cannot drain it (nobody consumes it, a record holds a Kafka offset).
     */
    INGEST_ADMISSION_STALL_MS: envInt(30_000, { min: 1_000, max: 3_600_000 }),
    /** How far an event's own `hlc` may be ahead of ingest's clock (DESIGN §6); further: rejected. */
    INGEST_MAX_CLOCK_SKEW_MS: envInt(5 * 60_000, { min: 0, max: 7 * 24 * 3_600_000 }),
    /** How long handled submit-message ids stay in the inbox, and how often it is pruned. */
    ...inboxRetentionEnvShape,
  }),
);

export type IngestConfig = Readonly<z.output<typeof ingestEnvSchema>>;

/** Parses the environment once; every problem is reported together. */
export const loadIngestConfig = (env: Readonly<Record<string, string | undefined>>): IngestConfig =>
  loadConfig(ingestEnvSchema, env);
