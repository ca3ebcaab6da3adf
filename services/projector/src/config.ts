import {
  loadConfig,
  serviceEnvShape,
  withBrokerUrls,
  envInt,
  inboxRetentionEnvShape,
} from '@concord/service-kit';
import { z } from 'zod';

const TYPE = /^[A-Za-z0-9_.-]{1,100}$/;

/** The projector's environment (DESIGN §9 plus its own variables), parsed once at start. */
export const projectorEnv = withBrokerUrls(
  z
    .object({
      ...serviceEnvShape,
      REDIS_URL: z
        .string()
        .regex(/^rediss?:\/\//, 'must be a redis:// URL')
        .optional(),
      /** Aggregate types cached in Redis, comma-separated (`task,note`); empty: no Redis cache. */
      PROJECTOR_REDIS_TYPES: z
        .string()
        .optional()
        .transform((value) =>
          (value ?? '')
            .split(',')
            .map((type) => type.trim())
            .filter((type) => type !== ''),
        )
        .pipe(z.array(z.string().regex(TYPE, 'must be aggregate type names separated by commas'))),
      /** Aggregate types with metric labels of their own, comma-separated; others are labelled `other`. */
      PROJECTOR_METRIC_TYPES: z
        .string()
        .optional()
        .transform((value) =>
          (value ?? '')
            .split(',')
            .map((type) => type.trim())
            .filter((type) => type !== ''),
        )
        .pipe(
          z
            .array(z.string().regex(TYPE, 'must be aggregate type names separated by commas'))
            .max(100, 'at most 100 types'),
        ),
      PROJECTOR_REDIS_KEY_PREFIX: z
        .string()
        .min(1)
        .optional()
        .transform((value) => value ?? 'concord:projection:'),
      PROJECTOR_CONCURRENCY: envInt(256, { min: 1, max: 4096 }),
      /** How long handled message ids stay in the inbox, and how often it is pruned. */
      ...inboxRetentionEnvShape,
    })
    .superRefine((env, ctx) => {
      if (env.PROJECTOR_REDIS_TYPES.length > 0 && env.REDIS_URL === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['REDIS_URL'],
          message: 'is required when PROJECTOR_REDIS_TYPES is set',
        });
      }
    }),
);

export type ProjectorConfig = Readonly<z.output<typeof projectorEnv>>;

export const loadProjectorConfig = (env: Readonly<Record<string, string | undefined>>): ProjectorConfig =>
  loadConfig(projectorEnv, env);
