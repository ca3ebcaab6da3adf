import { usageError } from './errors.js';
import type { OptionSpec } from './command.js';

export const DEFAULT_URL = 'http://localhost:8080';

/** Options every command takes (README: environment variables stand in for the flags). */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: 'string',
    value: 'url',
    description: `Concord's base URL (env CONCORD_URL; default ${DEFAULT_URL})`,
  },
  token: {
    type: 'string',
    value: 'token',
    description: 'sent as `Authorization: Bearer <token>` (env CONCORD_TOKEN)',
  },
  json: { type: 'boolean', description: 'print JSON (one value per line) for scripts' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/** An integer option within bounds, or a usage error naming the option. */
export const intOption = (
  raw: string | undefined,
  name: string,
  bounds: { min: number; max: number; fallback: number },
): number => {
  if (raw === undefined) return bounds.fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw usageError(`--${name} must be an integer from ${bounds.min} to ${bounds.max}`);
  }
  return value;
};

/** A JSON option's value parsed, or a usage error naming the option. */
export const jsonOption = (raw: string, name: string): unknown => {
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw usageError(`--${name} must be JSON: ${(error as Error).message}`);
  }
};
