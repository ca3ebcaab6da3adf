import type { Conflict, VersionRelation } from '../conflict/types.js';
import { compileIdPatterns, compileOneOf } from './pattern.js';

/**
 * A predicate over a conflict. Specs are plain closures, built once and evaluated many times; every
 * spec is nil-safe: an absent conflict, metadata or origin makes it false, never throws.
 */
export type Spec = (conflict: Conflict | undefined) => boolean;

/** A spec slot that may be left empty (`undefined`/`null` are ignored by `and`/`or`). */
export type MaybeSpec = Spec | undefined | null;

const present = (specs: readonly MaybeSpec[]): Spec[] =>
  specs.filter((s): s is Spec => typeof s === 'function');

/** Matches everything. */
export const always: Spec = () => true;
/** Matches nothing. */
export const never: Spec = () => false;

/** All specs hold. Empty slots are ignored; `and()` with no specs matches everything. */
export const and = (...specs: MaybeSpec[]): Spec => {
  const list = present(specs);
  if (list.length === 0) return always;
  if (list.length === 1) return list[0] ?? always;
  return (c) => {
    for (const spec of list) if (!spec(c)) return false;
    return true;
  };
};

/** Any spec holds. Empty slots are ignored; `or()` with no specs matches nothing. */
export const or = (...specs: MaybeSpec[]): Spec => {
  const list = present(specs);
  if (list.length === 0) return never;
  if (list.length === 1) return list[0] ?? never;
  return (c) => {
    for (const spec of list) if (spec(c)) return true;
    return false;
  };
};

/** Negation. `not(undefined)` matches everything (nothing to negate), but never an absent conflict. */
export const not =
  (spec: MaybeSpec): Spec =>
  (c) =>
    c !== undefined && (typeof spec !== 'function' || !spec(c));

/** The event's type is one of `types`. */
export const eventType = (...types: string[]): Spec => {
  const test = compileOneOf(types);
  return (c) => c !== undefined && test(c.event.type);
};

/** The aggregate type is one of `types`. */
export const aggregateType = (...types: string[]): Spec => {
  const test = compileOneOf(types);
  return (c) => c !== undefined && test(c.event.aggregateType);
};

/** The aggregate id matches one of the patterns: exact, glob (`note-*`) or regex (`re:^note-\d+$`). */
export const aggregateId = (...patterns: string[]): Spec => {
  const test = compileIdPatterns(patterns);
  return (c) => c !== undefined && test(c.event.aggregateId);
};

/** At least one of `fields` is among the conflict's overlapping fields. */
export const fieldsAnyOf = (...fields: string[]): Spec => {
  const test = compileOneOf(fields);
  return (c) => {
    if (c === undefined) return false;
    for (const field of c.overlappingFields) if (test(field)) return true;
    return false;
  };
};

/** Every one of `fields` is among the conflict's overlapping fields. */
export const fieldsAllOf =
  (...fields: string[]): Spec =>
  (c) => {
    if (c === undefined) return false;
    for (const field of fields) if (!c.overlappingFields.includes(field)) return false;
    return true;
  };

/** Metadata primitive that specs compare against. */
export type MetadataScalar = string | number | boolean;

/** `event.metadata[key] === value`. */
export const metadataEquals =
  (key: string, value: MetadataScalar): Spec =>
  (c) =>
    c?.event.metadata?.[key] === value;

/** `event.metadata[key]` is one of `values`. */
export const metadataIn = (key: string, values: readonly MetadataScalar[]): Spec => {
  if (values.length === 1) return metadataEquals(key, values[0] ?? '');
  const set = new Set<unknown>(values);
  return (c) => {
    const value = c?.event.metadata?.[key];
    return value !== undefined && set.has(value);
  };
};

/** The event's origin (writer) is one of `origins`. */
export const origin = (...origins: string[]): Spec => {
  const test = compileOneOf(origins);
  return (c) => c !== undefined && test(c.event.origin);
};

/** How the event relates to the state: `stale_base` (behind its base) or `concurrent` (vector). */
export const versionRelation = (...relations: VersionRelation[]): Spec => {
  const set = new Set<string>(relations);
  return (c) => c !== undefined && set.has(c.relation);
};
