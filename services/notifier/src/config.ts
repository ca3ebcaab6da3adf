import {
  envBoolean,
  envInt,
  loadConfig,
  retentionEnvShape,
  serviceEnvShape,
  withBrokerUrls,
} from '@concord/service-kit';
import { z } from 'zod';
import { DEFAULT_DELIVERY_CONCURRENCY } from './queue/port.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The notifier's environment: the shared service variables plus Redis and delivery settings. */
export const notifierEnvSchema = withBrokerUrls(
  z.object({
    ...serviceEnvShape,
    REDIS_URL: z
      .string({ message: 'is required' })
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
    NOTIFIER_QUEUE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 letters, digits, ".", "_" or "-"')
      .optional()
      .transform((value) => value ?? 'concord-webhooks'),
    /** BullMQ key prefix in Redis. */
    NOTIFIER_QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 letters, digits, ".", "_" or "-"')
      .optional()
      .transform((value) => value ?? 'concord'),
    NOTIFIER_ALLOW_PRIVATE_URLS: envBoolean(false),
    NOTIFIER_MAX_ATTEMPTS: envInt(8, { min: 1, max: 100 }),
    NOTIFIER_BACKOFF_INITIAL_MS: envInt(1_000, { min: 1, max: 3_600_000 }),
    NOTIFIER_BACKOFF_MAX_MS: envInt(600_000, { min: 1, max: 86_400_000 }),
    NOTIFIER_WEBHOOK_TIMEOUT_MS: envInt(10_000, { min: 100, max: 300_000 }),
    NOTIFIER_DELIVERY_CONCURRENCY: envInt(DEFAULT_DELIVERY_CONCURRENCY, { min: 1, max: 1_000 }),
    NOTIFIER_CIRCUIT_FAILURES: envInt(5, { min: 1, max: 1_000 }),
    NOTIFIER_CIRCUIT_HALF_OPEN_MS: envInt(30_000, { min: 10, max: 3_600_000 }),
    NOTIFIER_SSE_HEARTBEAT_MS: envInt(15_000, { min: 100, max: 600_000 }),
    /** Open SSE streams per process, and per client address (503 / 429 beyond). */
    NOTIFIER_STREAM_MAX: envInt(1_000, { min: 1, max: 100_000 }),
    NOTIFIER_STREAM_MAX_PER_CLIENT: envInt(16, { min: 1, max: 100_000 }),
    /** How long a stream's client may leave its send buffer full before the stream is destroyed. */
    NOTIFIER_STREAM_STALL_MS: envInt(30_000, { min: 100, max: 600_000 }),
    /** Log entries a catching-up stream reads (and holds) at once. */
    NOTIFIER_STREAM_PAGE_SIZE: envInt(100, { min: 1, max: 5_000 }),
    NOTIFIER_FEED_POLL_MS: envInt(500, { min: 10, max: 60_000 }),
    ...retentionEnvShape,
    /**
     * How long notifications stay in the log: the window in which a redelivered message is recognised
     * (the log is the notifier's inbox) and how far back a stream can resume. Default 7 days, at least 1 h.
     */
    NOTIFIER_LOG_RETENTION_MS: envInt(7 * DAY_MS, { min: 60_000, max: 365 * DAY_MS }),
    /** How long finished (delivered or dead) webhook deliveries are kept. Default 1 day. */
    NOTIFIER_DELIVERY_RETENTION_MS: envInt(DAY_MS, { min: 60_000, max: 365 * DAY_MS }),
  }),
).superRefine((env, ctx) => {
  if (env.NOTIFIER_BACKOFF_MAX_MS < env.NOTIFIER_BACKOFF_INITIAL_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['NOTIFIER_BACKOFF_MAX_MS'],
      message: 'must be at least NOTIFIER_BACKOFF_INITIAL_MS',
    });
  }
});

export type NotifierConfig = Readonly<z.output<typeof notifierEnvSchema>>;

/** Parses the environment once; every problem is reported (`CONCORD_CONFIG_INVALID`). */
export const loadNotifierConfig = (env: Readonly<Record<string, string | undefined>>): NotifierConfig =>
  loadConfig(notifierEnvSchema, env);
