import { coreErrors } from '../errors.js';
import type { EventEnvelope } from '../envelope/types.js';
import { compareVectors } from '../versions/vector.js';
import {
  type AggregateState,
  type Classification,
  type Conflict,
  type ConflictDetails,
  type FieldVersion,
  type LocalFieldChange,
  type VersionRelation,
} from './types.js';

/**
 * Classify an incoming (already validated) event against the aggregate's current state, exactly as
 * DESIGN §3 says. Pure and total: it never throws.
 *
 * 1. New aggregate (`state` undefined): `applied` at version 1, unless `baseVersion > 0` → `rejected`.
 * 2. `baseVersion` ahead of the aggregate's version → `rejected` (`CONCORD_CONFLICT_BASE_VERSION_AHEAD`).
 * 3. Event `clock` and state `vector` both non-empty: the clock dominates → `applied`; it is dominated
 *    or equal → `superseded`; concurrent → field check (below).
 * 4. Otherwise with a `baseVersion`: equal to the version → `applied`; behind → field check.
 * 5. No `baseVersion` and no usable clock: a blind write, `applied` on top.
 *
 * Field check: a field of the aggregate was changed concurrently when the writer had not seen that
 * change — by its dot (`clock[dot.node] < dot.counter`) when both sides carry vectors, else by version
 * (`fieldVersion.version > baseVersion`), and conservatively yes when neither is known. If the event's
 * fields overlap those → `conflict` (with the overlapping fields and their current values); else `merged`.
 */
export const classify = (state: AggregateState | undefined, event: EventEnvelope): Classification => {
  const base = event.baseVersion;
  if (state === undefined) {
    if (base !== undefined && base > 0) return baseAhead(base, 0);
    return { outcome: 'applied', version: 1, changedFields: changedFieldsOf(event) };
  }
  if (base !== undefined && base > state.version) return baseAhead(base, state.version);
  const clock = event.clock;
  if (clock !== undefined && hasEntries(clock) && hasEntries(state.vector)) {
    const relation = compareVectors(clock, state.vector);
    if (relation === 'after') return applied(state, event);
    if (relation === 'before' || relation === 'equal') {
      return {
        outcome: 'superseded',
        version: state.version,
        reason: `event clock is ${relation === 'equal' ? 'equal to' : 'dominated by'} the aggregate's version vector`,
      };
    }
    return fieldCheck(state, event, 'concurrent');
  }
  if (base === undefined || base === state.version) return applied(state, event);
  return fieldCheck(state, event, 'stale_base');
};

const baseAhead = (base: number, version: number): Classification => ({
  outcome: 'rejected',
  code: coreErrors.CONFLICT_BASE_VERSION_AHEAD.code,
  reason: `baseVersion ${base} is ahead of the aggregate's version ${version}`,
});

const applied = (state: AggregateState, event: EventEnvelope): Classification => ({
  outcome: 'applied',
  version: state.version + 1,
  changedFields: changedFieldsOf(event),
});

const fieldCheck = (
  state: AggregateState,
  event: EventEnvelope,
  relation: VersionRelation,
): Classification => {
  const changedFields = changedFieldsOf(event);
  const concurrentFields: string[] = [];
  for (const field of Object.keys(state.fieldVersions).sort()) {
    const fv = state.fieldVersions[field];
    if (fv !== undefined && !seenBy(event, fv)) concurrentFields.push(field);
  }
  const concurrent = new Set(concurrentFields);
  const overlappingFields = changedFields.filter((field) => concurrent.has(field));
  if (overlappingFields.length === 0) {
    return { outcome: 'merged', version: state.version + 1, changedFields, relation, concurrentFields };
  }
  const local: Record<string, LocalFieldChange> = {};
  for (const field of overlappingFields) {
    const fv = state.fieldVersions[field];
    local[field] = { ...fv, version: fv?.version ?? 0, value: state.fields[field] };
  }
  const details = {
    relation,
    currentVersion: state.version,
    changedFields,
    concurrentFields,
    overlappingFields,
    local,
    ...(event.baseVersion === undefined ? {} : { baseVersion: event.baseVersion }),
  };
  return { outcome: 'conflict', version: state.version, details };
};

/** Had the event's writer seen the change recorded in `fv`? */
const seenBy = (event: EventEnvelope, fv: FieldVersion): boolean => {
  if (fv.dot !== undefined && event.clock !== undefined) {
    return (event.clock[fv.dot.node] ?? 0) >= fv.dot.counter;
  }
  if (event.baseVersion !== undefined) return fv.version <= event.baseVersion;
  return false;
};

/** The fields an event sets: its `data` keys, sorted. */
export const changedFieldsOf = (event: EventEnvelope): string[] => Object.keys(event.data).sort();

const hasEntries = (v: object): boolean => {
  for (const _ in v) return true;
  return false;
};

/** Options for `toConflict`. */
export interface ToConflictOptions {
  readonly id: string;
  readonly event: EventEnvelope;
  readonly details: ConflictDetails;
}

/** Assemble the resolver's input from a `conflict` classification. */
export const toConflict = (options: ToConflictOptions): Conflict => ({
  ...options.details,
  id: options.id,
  event: options.event,
});
