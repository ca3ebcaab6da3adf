import {
  DEFAULT_ENVELOPE_LIMITS,
  findNonJson,
  findReservedMember,
  findUnstorableText,
  isUnstorableText,
} from '@concord/core/envelope';

/** Where a request's JSON cannot go into Postgres, and why. */
export interface StorageProblem {
  /** Path inside the checked object, e.g. `userId` or `fields.price.value`. */
  readonly path: string;
  readonly message: string;
}

/**
 * The first place in `value` that Postgres cannot store, by the checks core applies to an event's
 * `data`: something that is not JSON (a number like `1e400` parses to Infinity), nesting deeper than an
 * event's data may, text with U+0000 or an unpaired surrogate (in a value or a member name), or a member
 * named `__proto__`, `constructor` or `prototype` (no event's field can have such a name).
 */
export const storageProblem = (value: Readonly<Record<string, unknown>>): StorageProblem | undefined => {
  const found =
    findNonJson(value, '', DEFAULT_ENVELOPE_LIMITS.maxDepth) ??
    findUnstorableText(value, '') ??
    findReservedMember(value, '');
  return found === undefined ? undefined : { path: found.path, message: found.why };
};

/** True when Postgres can store `text` (no U+0000, no unpaired surrogate). */
export const isStorableText = (text: string): boolean => !isUnstorableText(text);
