import type { Conflict, LocalFieldChange } from '../conflict/types.js';
import type { MetadataScalar, Spec } from './spec.js';

/**
 * Which side of a conflict a policy condition on `metadata` or `origins` tests: the incoming event
 * (default), the stored side (the writes that last set the overlapping fields), or either.
 */
export type ConditionSide = 'incoming' | 'stored' | 'either';

export const CONDITION_SIDES: readonly ConditionSide[] = ['incoming', 'stored', 'either'];

/** The only metadata key the stored side keeps per field (field versions record `metadata.source`). */
export const STORED_METADATA_KEY = 'source';

/**
 * The text a policy condition compares, one rule for every JSON scalar: a string is itself, a number
 * or a boolean is what JSON writes for it (`true`, `5`, `2.5`). Objects, arrays and null have none and
 * never match. So `legalHold: "true"` and `legalHold: true` match each other, and `5` matches `"5"`.
 */
export const scalarText = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
    return String(value);
  return undefined;
};

const textSet = (values: readonly MetadataScalar[]): ReadonlySet<string> =>
  new Set(values.map((value) => scalarText(value) ?? ''));

/** True when some overlapping field was last set by a write whose `pick` is in `accepted`. */
const storedHas = (
  conflict: Conflict,
  pick: (side: LocalFieldChange | undefined) => string | undefined,
  accepted: ReadonlySet<string>,
): boolean => {
  for (const field of conflict.overlappingFields) {
    const value = pick(conflict.local[field]);
    if (value !== undefined && accepted.has(value)) return true;
  }
  return false;
};

const onSide = (side: ConditionSide, incoming: Spec, stored: Spec): Spec => {
  if (side === 'incoming') return incoming;
  if (side === 'stored') return stored;
  return (c) => incoming(c) || stored(c);
};

/**
 * `metadata.<key>` is one of `values`, compared as text (`scalarText`). On the stored side only
 * `source` is known; the caller refuses other keys there.
 */
export const metadataOnSide = (key: string, values: readonly MetadataScalar[], side: ConditionSide): Spec => {
  const accepted = textSet(values);
  const incoming: Spec = (c) => {
    const text = scalarText(c?.event.metadata?.[key]);
    return text !== undefined && accepted.has(text);
  };
  const stored: Spec = (c) => c !== undefined && storedHas(c, (local) => local?.source, accepted);
  return onSide(side, incoming, stored);
};

/** The writer (`origin`) is one of `origins`, on the given side. */
export const originOnSide = (origins: readonly string[], side: ConditionSide): Spec => {
  const accepted = new Set(origins);
  const incoming: Spec = (c) => c?.event.origin !== undefined && accepted.has(c.event.origin);
  const stored: Spec = (c) => c !== undefined && storedHas(c, (local) => local?.origin, accepted);
  return onSide(side, incoming, stored);
};

/** How a condition's values read in an explanation: typed, as JSON writes them (`"true"` vs `true`). */
export const typedList = (values: readonly unknown[]): string =>
  `[${values.map((value) => JSON.stringify(value)).join(', ')}]`;
