import { ConcordError } from '@concord/core';
import { z } from 'zod';
import { serviceKitErrors } from './errors.js';

/**
 * Parses a service's environment once, at start, against one zod schema. Every problem is reported
 * at once (`CONCORD_CONFIG_INVALID` with one line per variable); the result is frozen.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<z.output<S>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`,
    );
    throw new ConcordError(
      serviceKitErrors.CONFIG_INVALID,
      `invalid configuration:\n  ${problems.join('\n  ')}`,
      {
        details: problems,
      },
    );
  }
  return Object.freeze(parsed.data);
}

/** Strict booleans: exactly `true` or `false`; anything else ("1", "yes") is a configuration error. */
export const envBoolean = (fallback: boolean) =>
  z
    .enum(['true', 'false'], { message: 'must be "true" or "false"' })
    .optional()
    .transform((value) => (value === undefined ? fallback : value === 'true'));

/** An integer within bounds, given as a decimal string. */
export const envInt = (fallback: number, bounds: { min?: number; max?: number } = {}) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a non-negative integer')
    .optional()
    .transform((value) => (value === undefined ? fallback : Number(value)))
    .pipe(
      z
        .number()
        .int()
        .min(bounds.min ?? 0)
        .max(bounds.max ?? Number.MAX_SAFE_INTEGER),
    );

export const envPort = (fallback: number) => envInt(fallback, { min: 1, max: 65_535 });

/** `LOG_FORMAT`: `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`. */
export const logFormat = z
  .enum(['auto', 'json', 'pretty'], { message: 'must be auto, json or pretty' })
  .optional()
  .transform((value) => value ?? 'auto');

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .optional()
  .transform((value) => value ?? 'info');
