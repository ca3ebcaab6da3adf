import { z } from 'zod';
import { envBoolean, envInt, envPort, logFormat, logLevel } from './config.js';

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/**
 * Authentication, CORS and the rate limit (DESIGN §5 "Authentication"), read by every standalone service
 * and the all-in-one process. No credential set: authentication is off.
 */
export const authEnvShape = {
  /** HS256 secret of the JWTs accepted (at least 32 characters). */
  CONCORD_AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** URL of a JWKS: JWTs signed with its keys are accepted. */
  CONCORD_AUTH_JWKS_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http(s):// URL')
    .optional(),
  /** `iss` a JWT must carry (checked when set). */
  CONCORD_AUTH_JWT_ISSUER: optionalText,
  /** `aud` a JWT must carry (checked when set). */
  CONCORD_AUTH_JWT_AUDIENCE: optionalText,
  /** JSON or YAML list of `{ key | sha256, subject, scopes, tenant? }`. */
  CONCORD_AUTH_API_KEYS_FILE: z.string().min(1).optional(),
  /** Origins browsers may call from, comma-separated (`*`: any). Default none. */
  CONCORD_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    )
    .pipe(
      z.array(
        z.string().regex(/^(\*|https?:\/\/[^/\s,]+)$/, 'each origin must be scheme://host[:port] or *'),
      ),
    ),
  /** Requests a minute per API key or token subject; 0 (default): no limit. */
  CONCORD_RATE_LIMIT_PER_MIN: envInt(0, { min: 0, max: 1_000_000 }),
} as const;

/**
 * The environment every standalone service reads (DESIGN §9). Services extend it with their own
 * variables; `withBrokerUrls` checks that the chosen broker's address is present.
 */
export const serviceEnvShape = {
  PORT: envPort(8080),
  LOG_LEVEL: logLevel,
  LOG_FORMAT: logFormat,
  DATABASE_URL: z
    .string({ message: 'is required' })
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .optional()
    .transform((value) => value ?? 'concord'),
  DATABASE_POOL_SIZE: envInt(10, { min: 1, max: 200 }),
  BROKER: z.enum(['rabbitmq', 'kafka', 'memory'], { message: 'must be rabbitmq, kafka or memory' }),
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// URL')
    .optional(),
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'must be host:port[,host:port…]')
    .optional(),
  /** RabbitMQ exchange (DESIGN §4: `concord`). */
  AMQP_EXCHANGE: z
    .string()
    .optional()
    .transform((value) => value ?? 'concord'),
  /**
   * RabbitMQ group queues with one active consumer, the group's other instances standing by: per-key
   * order holds across instances (default). `false` lets instances compete for a queue's messages and
   * share the work, with per-key order only within each instance. Every service of a deployment must use
   * the same value (a queue's arguments are fixed when it is first declared).
   */
  AMQP_SINGLE_ACTIVE_CONSUMER: envBoolean(true),
  /**
   * Shards of every RabbitMQ group queue (1 to 64, DESIGN §4): a group's instances share them, each shard
   * consumed by one instance at a time, so they share the work and per-key order holds across them.
   * Producers route by it: every service of a deployment must use the same value, changed only on drained
   * queues. 1: one queue per group and topic, as before shards (instances then stand by, see above).
   */
  AMQP_SHARDS: envInt(4, { min: 1, max: 64 }),
  /** Prefix of every topic and consumer group on a shared broker (tests use it). Default empty. */
  CONCORD_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'must contain only letters, digits, ".", "_" and "-"')
    .optional()
    .transform((value) => value ?? ''),
  SHUTDOWN_GRACE_MS: envInt(10_000, { min: 0, max: 600_000 }),
  /**
   * `concord.events.outcome` messages a service publishes go out as binary-mode CloudEvents (attributes
   * in the broker binding's headers, the payload unchanged as `data`; DESIGN §4). Default false.
   */
  CONCORD_CLOUDEVENTS_OUTCOMES: envBoolean(false),
  ...authEnvShape,
} as const;

type BrokerEnv = { BROKER: string; AMQP_URL?: string | undefined; KAFKA_BROKERS?: string | undefined };

/** Adds the "broker address present" rule to a schema built from {@link serviceEnvShape}. */
export const withBrokerUrls = <S extends z.ZodType<BrokerEnv>>(schema: S) =>
  schema.superRefine((env, ctx) => {
    if (env.BROKER === 'rabbitmq' && env.AMQP_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['AMQP_URL'], message: 'is required when BROKER=rabbitmq' });
    }
    if (env.BROKER === 'kafka' && env.KAFKA_BROKERS === undefined) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'is required when BROKER=kafka' });
    }
  });
