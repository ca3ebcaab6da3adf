import { isPlainObject } from '../json.js';

/**
 * Find the first place where `value` is not plain JSON (undefined, function, symbol, bigint, NaN,
 * Infinity, a cycle, a class instance). Returns the path and why, or undefined when it is JSON.
 */
export const findNonJson = (value: unknown, path: string): { path: string; why: string } | undefined =>
  walk(value, path, new Set());

const walk = (
  value: unknown,
  path: string,
  stack: Set<object>,
): { path: string; why: string } | undefined => {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, why: `${value} is not a JSON number` };
    case 'object': {
      if (value === null) return undefined;
      if (stack.has(value)) return { path, why: 'contains a cycle' };
      if (!Array.isArray(value) && !isPlainObject(value)) return { path, why: 'is not plain JSON' };
      const proto = Object.getPrototypeOf(value) as unknown;
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
        return { path, why: 'is not a plain object' };
      }
      stack.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const found = walk(value[i], `${path}[${i}]`, stack);
            if (found) return found;
          }
        } else {
          for (const key of Object.keys(value)) {
            const found = walk(value[key], memberPath(path, key), stack);
            if (found) return found;
          }
        }
      } finally {
        stack.delete(value);
      }
      return undefined;
    }
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return { path, why: `${typeof value} is not JSON` };
  }
};

/**
 * True when `text` holds U+0000 or an unpaired UTF-16 surrogate: it has no UTF-8 form (an encoder
 * silently replaces lone surrogates) and Postgres text and jsonb refuse U+0000.
 */
export const isUnstorableText = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed();

/**
 * Find the first string in plain JSON `value` (a string value or a member name) that is unstorable
 * text. Returns its path and why, or undefined. Expects `value` to have passed {@link findNonJson}.
 */
export const findUnstorableText = (
  value: unknown,
  path: string,
): { path: string; why: string } | undefined => {
  if (typeof value === 'string') return isUnstorableText(value) ? { path, why: UNSTORABLE_WHY } : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, member] of Object.entries(value)) {
    const memberAt = memberPath(path, key);
    if (isUnstorableText(key)) return { path: memberAt, why: `member name ${UNSTORABLE_WHY}` };
    const found = findUnstorableText(member, memberAt);
    if (found) return found;
  }
  return undefined;
};

const UNSTORABLE_WHY = 'holds U+0000 or an unpaired surrogate, which cannot be stored';

const SIMPLE_KEY = /^[A-Za-z_$][\w$]*$/;

/** `parent.key`, or `parent["odd key"]` when the key is not a simple identifier. */
export const memberPath = (parent: string, key: string): string => {
  if (SIMPLE_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
};
