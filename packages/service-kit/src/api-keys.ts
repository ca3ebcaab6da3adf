import { readFile } from 'node:fs/promises';
import { ConcordError } from '@concord/core';
import { isTenantName } from '@concord/core/envelope';
import { parse } from 'yaml';
import { z } from 'zod';
import { SCOPES, TENANT_NAME_RULE, sha256Hex } from './auth.js';
import type { ApiKey } from './auth.js';
import { serviceKitErrors } from './errors.js';

const entrySchema = z
  .object({
    key: z.string().min(16, 'must be at least 16 characters').optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex digits of the key's SHA-256")
      .optional(),
    subject: z.string().min(1).max(200),
    scopes: z.array(z.enum(SCOPES, { message: `must be one of ${SCOPES.join(', ')}` })).min(1),
    tenant: z.string().refine(isTenantName, `must be ${TENANT_NAME_RULE}`).optional(),
  })
  .strict()
  .refine((entry) => (entry.key === undefined) !== (entry.sha256 === undefined), {
    message: 'needs exactly one of key and sha256',
  });

/**
 * An API keys file (`CONCORD_AUTH_API_KEYS_FILE`), JSON or YAML: a list of
 * `{ key | sha256, subject, scopes, tenant? }`. Every problem is reported at once, as a config error.
 */
export function parseApiKeys(text: string, source = 'API keys file'): readonly ApiKey[] {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ConcordError(serviceKitErrors.CONFIG_INVALID, `${source} is neither JSON nor YAML`, {
      cause: error,
    });
  }
  const parsed = z.array(entrySchema, { message: 'must be a list of keys' }).safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`,
    );
    throw new ConcordError(serviceKitErrors.CONFIG_INVALID, `${source}:\n  ${problems.join('\n  ')}`, {
      details: problems,
    });
  }
  const keys = parsed.data.map((entry) => ({
    sha256: (entry.sha256 ?? sha256Hex(entry.key ?? '')).toLowerCase(),
    subject: entry.subject,
    scopes: entry.scopes,
    ...(entry.tenant === undefined ? {} : { tenant: entry.tenant }),
  }));
  const seen = new Set<string>();
  for (const [index, key] of keys.entries()) {
    if (seen.has(key.sha256)) {
      throw new ConcordError(
        serviceKitErrors.CONFIG_INVALID,
        `${source}: ${index}: the same key is listed twice`,
      );
    }
    seen.add(key.sha256);
  }
  return keys;
}

export const loadApiKeysFile = async (path: string): Promise<readonly ApiKey[]> =>
  parseApiKeys(await readFile(path, 'utf8'), path);
