import {
  envInt,
  inboxRetentionEnvShape,
  loadConfig,
  serviceEnvShape,
  withBrokerUrls,
} from '@concord/service-kit';
import { z } from 'zod';

/** The resolver's environment (DESIGN §9): the shared service variables plus its own. */
export const resolverEnvSchema = withBrokerUrls(
  z.object({
    ...serviceEnvShape,
    /** Path of the resolution policy (YAML/JSON). Default: the bundled example policy. */
    CONCORD_POLICY: z.string().min(1, 'must not be empty').optional(),
    /** Extension modules (comma-separated paths or package names) adding strategies and specs. */
    CONCORD_EXTENSIONS: z.string().optional(),
    /** How often the policy file is checked for changes besides file-system events. */
    POLICY_POLL_MS: envInt(2_000, { min: 50, max: 3_600_000 }),
    /** How often overdue reviews are escalated. */
    REVIEW_SWEEP_MS: envInt(5_000, { min: 10, max: 3_600_000 }),
    /**
     * The notifier's `GET /v1/stream` URL, from which the review console (`/console/`) takes live
     * updates; unset, the console polls. The notifier must allow the console's origin (CORS).
     */
    RESOLVER_CONSOLE_STREAM_URL: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .optional(),
    /** Conflicts handled at once (per-key order always holds). */
    RESOLVER_CONCURRENCY: envInt(16, { min: 1, max: 1_000 }),
    /** How long handled message ids stay in the inbox, and how often it is pruned. */
    ...inboxRetentionEnvShape,
  }),
);

export type ResolverConfig = Readonly<z.output<typeof resolverEnvSchema>>;

/** Parses the environment once; every problem is reported together (`CONCORD_CONFIG_INVALID`). */
export const loadResolverConfig = (env: Readonly<Record<string, string | undefined>>): ResolverConfig =>
  loadConfig(resolverEnvSchema, env);
