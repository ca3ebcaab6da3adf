import { DEFAULT_MAX_BODY_BYTES } from '@concord/ingest';
import {
  authConfigured,
  authEnvShape,
  envBoolean,
  envInt,
  inboxRetentionEnvShape,
  loadConfig,
  logFormat,
  logLevel,
  envPort,
} from '@concord/service-kit';
import { z } from 'zod';

/**
 * The all-in-one process (DESIGN §9): every service in one process on one port. With nothing set it
 * is the embedded default — PGlite in `CONCORD_DATA_DIR`, the in-memory bus and job queue, the bundled
 * policy. `DATABASE_URL` and `BROKER` point it at real servers instead.
 */
export const allInOneEnvSchema = z
  .object({
    PORT: envPort(8080),
    /**
     * Address to listen on. Default: every interface (0.0.0.0) with authentication configured, only this
     * machine (127.0.0.1) without: no open API beyond loopback unless asked for (then a warning at start).
     */
    HOST: z.string().min(1).optional(),
    LOG_LEVEL: logLevel,
    LOG_FORMAT: logFormat,
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .optional()
      .transform((value) => value ?? 'concord'),
    DATABASE_POOL_SIZE: envInt(10, { min: 1, max: 200 }),
    CONCORD_DATA_DIR: z
      .string()
      .min(1)
      .optional()
      .transform((value) => value ?? './.concord'),
    BROKER: z
      .enum(['rabbitmq', 'kafka', 'memory'], { message: 'must be rabbitmq, kafka or memory' })
      .optional()
      .transform((value) => value ?? 'memory'),
    AMQP_URL: z
      .string()
      .regex(/^amqps?:\/\//, 'must be an amqp:// URL')
      .optional(),
    AMQP_EXCHANGE: z
      .string()
      .optional()
      .transform((value) => value ?? 'concord'),
    KAFKA_BROKERS: z.string().optional(),
    AMQP_SINGLE_ACTIVE_CONSUMER: envBoolean(true),
    AMQP_SHARDS: envInt(4, { min: 1, max: 64 }),
    CONCORD_TOPIC_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]*$/, 'must contain only letters, digits, ".", "_" and "-"')
      .optional()
      .transform((value) => value ?? ''),
    CONCORD_POLICY: z.string().min(1).optional(),
    /** Extension modules (comma-separated paths or package names) adding strategies and specs. */
    CONCORD_EXTENSIONS: z.string().optional(),
    /** Largest `POST /v1/events` body (413 above); as ingest's, 4 MiB by default (see its README). */
    INGEST_MAX_BODY_BYTES: envInt(DEFAULT_MAX_BODY_BYTES, { min: 1024, max: 64 * 1024 * 1024 }),
    /** How far an event's own `hlc` may be ahead of ingest's clock (DESIGN §6); further: rejected. */
    INGEST_MAX_CLOCK_SKEW_MS: envInt(5 * 60_000, { min: 0, max: 7 * 24 * 3_600_000 }),
    NOTIFIER_ALLOW_PRIVATE_URLS: envBoolean(false),
    NOTIFIER_MAX_ATTEMPTS: envInt(8, { min: 1, max: 100 }),
    NOTIFIER_BACKOFF_INITIAL_MS: envInt(1_000, { min: 1, max: 3_600_000 }),
    NOTIFIER_BACKOFF_MAX_MS: envInt(600_000, { min: 1, max: 86_400_000 }),
    /** How long ingest, resolver and projector remember handled message ids, and how often they prune. */
    ...inboxRetentionEnvShape,
    SHUTDOWN_GRACE_MS: envInt(10_000, { min: 0, max: 600_000 }),
    ...authEnvShape,
  })
  .superRefine((env, ctx) => {
    if (env.BROKER === 'rabbitmq' && env.AMQP_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['AMQP_URL'], message: 'is required when BROKER=rabbitmq' });
    }
    if (env.BROKER === 'kafka' && env.KAFKA_BROKERS === undefined) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'is required when BROKER=kafka' });
    }
    if (env.BROKER !== 'memory' && env.DATABASE_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: 'is required with a real broker (embedded PGlite goes with BROKER=memory)',
      });
    }
  })
  .transform((env) => ({ ...env, HOST: env.HOST ?? (authConfigured(env) ? '0.0.0.0' : '127.0.0.1') }));

export type AllInOneConfig = Readonly<z.output<typeof allInOneEnvSchema>>;

export const loadAllInOneConfig = (env: Readonly<Record<string, string | undefined>>): AllInOneConfig =>
  loadConfig(allInOneEnvSchema, env);
