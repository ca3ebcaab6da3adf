import type { Conflict } from '../conflict/types.js';
import { canonicalJson, isPlainObject, type JsonValue } from '../json.js';
import { compareWrites, localSide, orderReason, remoteValue } from './sides.js';
import type { FieldChoice } from './types.js';

/** Resolves one overlapping field of a conflict. */
export type FieldRule = (conflict: Conflict, field: string) => FieldChoice;

const choice = (
  field: string,
  source: FieldChoice['source'],
  value: JsonValue | undefined,
  reason: string,
): FieldChoice => ({ field, source, value, reason });

/** The later write wins (HLC, then origin, then event id). */
export const lastWriteWinsField: FieldRule = (conflict, field) => {
  const local = localSide(conflict, field);
  const order = compareWrites(conflict, local);
  const remoteWins = order.cmp > 0;
  return choice(
    field,
    remoteWins ? 'remote' : 'local',
    remoteWins ? remoteValue(conflict, field) : local?.value,
    orderReason(conflict, local, order, remoteWins, 'later'),
  );
};

/** The earlier write wins (same order as last_write_wins, reversed). */
export const firstWriteWinsField: FieldRule = (conflict, field) => {
  const local = localSide(conflict, field);
  const order = compareWrites(conflict, local);
  const remoteWins = order.cmp < 0;
  return choice(
    field,
    remoteWins ? 'remote' : 'local',
    remoteWins ? remoteValue(conflict, field) : local?.value,
    orderReason(conflict, local, order, remoteWins, 'earlier'),
  );
};

export const preferLocalField: FieldRule = (conflict, field) =>
  choice(field, 'local', localSide(conflict, field)?.value, 'prefer_local: current value kept');

export const preferRemoteField: FieldRule = (conflict, field) =>
  choice(field, 'remote', remoteValue(conflict, field), 'prefer_remote: incoming value taken');

const numeric =
  (
    name: string,
    pick: (local: number, remote: number) => { value: number; source: FieldChoice['source'] },
  ): FieldRule =>
  (conflict, field) => {
    const local = localSide(conflict, field)?.value;
    const remote = remoteValue(conflict, field);
    if (typeof local !== 'number' || typeof remote !== 'number') {
      const fallback = lastWriteWinsField(conflict, field);
      return {
        ...fallback,
        reason: `${name} needs two numbers; fell back to last_write_wins: ${fallback.reason}`,
      };
    }
    const picked = pick(local, remote);
    return choice(
      field,
      picked.source,
      picked.value,
      `${name}(local ${local}, remote ${remote}) = ${picked.value}`,
    );
  };

export const maxField = numeric('max', (l, r) =>
  r > l ? { value: r, source: 'remote' } : { value: l, source: 'local' },
);
export const minField = numeric('min', (l, r) =>
  r < l ? { value: r, source: 'remote' } : { value: l, source: 'local' },
);
/** Adds both values: meant for fields whose writes carry deltas (counters). */
export const sumField = numeric('sum', (l, r) => ({ value: l + r, source: 'merged' }));

/** Union of two arrays: local items in order, then remote items not already present (by JSON value). */
export const unionArrays = (local: readonly JsonValue[], remote: readonly JsonValue[]): JsonValue[] => {
  const seen = new Set(local.map((item) => canonicalJson(item)));
  const out = [...local];
  for (const item of remote) {
    const key = canonicalJson(item);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(item);
    }
  }
  return out;
};

export const unionField: FieldRule = (conflict, field) => {
  const local = localSide(conflict, field)?.value;
  const remote = remoteValue(conflict, field);
  if (!Array.isArray(local) || !Array.isArray(remote)) {
    const fallback = lastWriteWinsField(conflict, field);
    return {
      ...fallback,
      reason: `union needs two arrays; fell back to last_write_wins: ${fallback.reason}`,
    };
  }
  const value = unionArrays(local as JsonValue[], remote as JsonValue[]);
  return choice(
    field,
    'merged',
    value,
    `union of local (${local.length}) and remote (${remote.length}) items`,
  );
};

/** Additive merge of two JSON values: arrays → union, objects → merged recursively, else undefined. */
export const additiveMerge = (
  local: JsonValue | undefined,
  remote: JsonValue | undefined,
): JsonValue | undefined => {
  if (Array.isArray(local) && Array.isArray(remote)) {
    return unionArrays(local as JsonValue[], remote as JsonValue[]);
  }
  if (isPlainObject(local) && isPlainObject(remote)) {
    const out: Record<string, JsonValue> = { ...(local as Record<string, JsonValue>) };
    for (const key of Object.keys(remote)) {
      const r = remote[key] as JsonValue;
      const merged = key in out ? additiveMerge(out[key], r) : r;
      out[key] = merged === undefined ? r : merged;
    }
    return out;
  }
  if (local === undefined) return remote;
  if (remote === undefined) return local;
  return canonicalJson(local) === canonicalJson(remote) ? local : undefined;
};

/** Keep both sides' additions: arrays unioned, objects merged key by key; scalars fall back to LWW. */
export const additiveField: FieldRule = (conflict, field) => {
  const local = localSide(conflict, field)?.value;
  const remote = remoteValue(conflict, field);
  const merged = additiveMerge(local, remote);
  if (merged === undefined) {
    const fallback = lastWriteWinsField(conflict, field);
    return {
      ...fallback,
      reason: `scalar values cannot be merged additively; last_write_wins: ${fallback.reason}`,
    };
  }
  return choice(field, 'merged', merged, 'additive merge: both sides\u2019 additions kept');
};

/** Per-field rules by canonical name (see `normalizeName`), with the aliases `lww` and `fww`. */
export const FIELD_RULES: ReadonlyMap<string, { name: string; rule: FieldRule }> = new Map(
  (
    [
      ['last_write_wins', lastWriteWinsField, ['lww']],
      ['first_write_wins', firstWriteWinsField, ['fww']],
      ['max', maxField, []],
      ['min', minField, []],
      ['sum', sumField, []],
      ['union', unionField, []],
      ['prefer_local', preferLocalField, []],
      ['prefer_remote', preferRemoteField, []],
      ['additive_merge', additiveField, ['merge']],
    ] as const
  ).flatMap(([name, rule, aliases]) =>
    [name, ...aliases].map((key) => [normalizeName(key), { name, rule }] as const),
  ),
);

/** Names compare case-insensitively, ignoring `_`, `-` and spaces: `Last-Write-Wins` = `last_write_wins`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

/** Look up a per-field rule by name, or undefined. */
export const fieldRuleNamed = (name: unknown): { name: string; rule: FieldRule } | undefined =>
  typeof name === 'string' ? FIELD_RULES.get(normalizeName(name)) : undefined;

/** Names of the per-field rules, for messages. */
export const FIELD_RULE_NAMES =
  'last_write_wins (lww), first_write_wins (fww), max, min, sum, union, prefer_local, prefer_remote, additive_merge';
