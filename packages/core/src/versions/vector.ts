import { ConcordError, coreErrors } from '../errors.js';

/**
 * A version vector: for each writer (node id) the number of its events the holder has seen.
 * Absent entries count as 0. Values are immutable; every operation returns a new vector.
 */
export type VersionVector = Readonly<Record<string, number>>;

/** How vector `a` relates to vector `b`. */
export type VectorRelation = 'before' | 'after' | 'equal' | 'concurrent';

/** Default bound on the number of entries a stored vector keeps (see `pruneVector`). */
export const DEFAULT_MAX_VECTOR_ENTRIES = 64;

/**
 * Compare two vectors. `before`: every entry of `a` ≤ `b` and one is smaller (b has seen all of a);
 * `after`: the reverse; `equal`; otherwise `concurrent`. Antisymmetric: compare(a,b)=before ⇔ compare(b,a)=after.
 */
export const compareVectors = (a: VersionVector, b: VersionVector): VectorRelation => {
  let less = false;
  let greater = false;
  for (const node in a) {
    const x = a[node] ?? 0;
    const y = b[node] ?? 0;
    if (x < y) less = true;
    else if (x > y) greater = true;
  }
  for (const node in b) {
    if (node in a) continue;
    if ((b[node] ?? 0) > 0) less = true;
  }
  if (less && greater) return 'concurrent';
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
};

/** Pointwise maximum. Commutative, associative and idempotent. Zero entries are dropped. */
export const mergeVectors = (a: VersionVector, b: VersionVector): VersionVector => {
  const out: Record<string, number> = {};
  for (const node in a) {
    const x = a[node] ?? 0;
    if (x > 0) out[node] = x;
  }
  for (const node in b) {
    const y = b[node] ?? 0;
    if (y > (out[node] ?? 0)) out[node] = y;
  }
  return out;
};

/** Options for `incrementVector`. */
export interface IncrementOptions {
  /** Bound on entries; when exceeded the vector is pruned (never dropping `node`). */
  readonly maxEntries?: number;
}

/** Return `v` with `node`'s counter increased by one, pruned to `maxEntries` if given. */
export const incrementVector = (
  v: VersionVector,
  node: string,
  options: IncrementOptions = {},
): VersionVector => {
  if (node.length === 0) throw new ConcordError(coreErrors.VECTOR_INVALID, 'node id must not be empty');
  const out = { ...v, [node]: (v[node] ?? 0) + 1 };
  return options.maxEntries === undefined
    ? out
    : pruneVector(out, { maxEntries: options.maxEntries, keep: node });
};

/** Options for `pruneVector`. */
export interface PruneOptions {
  readonly maxEntries: number;
  /** A node that must survive pruning (the local writer). */
  readonly keep?: string;
}

/**
 * Bound a vector's size. Pruning rule: while there are more than `maxEntries` entries, drop the entry
 * with the smallest counter (ties: the greatest node id), never `keep`.
 *
 * Prune only the *aggregate's* stored vector, never an incoming event's clock. A pruned stored vector is
 * pointwise ≤ the unpruned one, so an event it calls `before`/`equal` (superseded) would have been
 * superseded anyway: pruning can only turn a supersede into a field-level conflict check, never discard
 * a change that was not causally older.
 */
export const pruneVector = (v: VersionVector, options: PruneOptions): VersionVector => {
  const nodes = Object.keys(v);
  if (nodes.length <= options.maxEntries) return v;
  const candidates = nodes
    .filter((node) => node !== options.keep)
    .sort((x, y) => (v[x] ?? 0) - (v[y] ?? 0) || (x < y ? 1 : x > y ? -1 : 0));
  const drop = new Set(candidates.slice(0, nodes.length - Math.max(options.maxEntries, 1)));
  const out: Record<string, number> = {};
  for (const node of nodes) if (!drop.has(node)) out[node] = v[node] ?? 0;
  return out;
};

/** Stable string form: entries sorted by node id, `node:counter` joined by `,`; node ids are URI-encoded. */
export const formatVector = (v: VersionVector): string =>
  Object.keys(v)
    .filter((node) => (v[node] ?? 0) > 0)
    .sort()
    .map((node) => `${encodeURIComponent(node)}:${v[node] ?? 0}`)
    .join(',');

/** Inverse of `formatVector`. Throws `CONCORD_VECTOR_INVALID` on malformed input. */
export const parseVector = (text: string): VersionVector => {
  const out: Record<string, number> = {};
  if (text === '') return out;
  for (const part of text.split(',')) {
    const colon = part.lastIndexOf(':');
    const counter = Number(part.slice(colon + 1));
    if (colon <= 0 || !Number.isSafeInteger(counter) || counter < 0) {
      throw new ConcordError(coreErrors.VECTOR_INVALID, `bad version vector entry "${part}"`);
    }
    out[decodeURIComponent(part.slice(0, colon))] = counter;
  }
  return out;
};

/** Why a vector-like value is not a valid version vector, or undefined when it is one. */
export const vectorProblem = (value: unknown, maxEntries: number): string | undefined => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object';
  const entries = Object.entries(value);
  if (entries.length > maxEntries) return `has ${entries.length} entries, more than ${maxEntries}`;
  for (const [node, counter] of entries) {
    if (node.length === 0) return 'has an empty node id';
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) {
      return `entry "${node}" must be a non-negative integer`;
    }
  }
  return undefined;
};
