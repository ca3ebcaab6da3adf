import { isPlainObject } from '../json.js';
import type { OptionsContext } from './types.js';

/**
 * Read a strategy's options object: reports a non-object and every key outside `allowed`, returns the
 * record (empty when absent).
 */
export const readOptions = (
  options: unknown,
  ctx: OptionsContext,
  allowed: readonly string[],
): Readonly<Record<string, unknown>> => {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) {
    ctx.problem('', 'options must be a mapping');
    return {};
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      ctx.unknownOption(
        `.${key}`,
        `unknown option "${key}"${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`,
      );
    }
  }
  return options;
};

/** A non-empty list of distinct non-empty strings, or undefined after reporting why not. */
export const readStringList = (
  value: unknown,
  ctx: OptionsContext,
  subPath: string,
): string[] | undefined => {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.problem(subPath, 'must be a non-empty list of strings');
    return undefined;
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0)
      ctx.problem(`${subPath}[${i}]`, 'must be a non-empty string');
    else if (out.includes(item)) ctx.problem(`${subPath}[${i}]`, `duplicate "${item}"`);
    else out.push(item);
  });
  return out;
};

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds as a number, or a string like `500ms`, `90s`, `30m`, `24h`, `7d`. */
export const parseDuration = (value: unknown): number | undefined => {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNITS[match[2] ?? ''] ?? 0);
  return ms > 0 ? ms : undefined;
};
