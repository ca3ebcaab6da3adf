import { changeSetOf, provenanceOf, writeOf, type FieldChangeSet } from '../conflict/apply.js';
import type { Conflict, WriteProvenance } from '../conflict/types.js';
import type { JsonValue } from '../json.js';
import { orderWrites, remoteWrite } from '../strategy/sides.js';
import type { FieldSource, StrategyResult } from '../strategy/types.js';

/**
 * The write a resolved field's value is credited to (DESIGN §6, provenance): the incoming event's for
 * `remote`, the local side's writer for `local`, and for `merged` (a union, a sum, a value a person gave)
 * the later of the two writes by the order last_write_wins uses — a local side nobody wrote (no event
 * id) counts as earliest.
 */
export const creditedWrite = (conflict: Conflict, field: string, source: FieldSource): WriteProvenance => {
  const remote = writeOf(changeSetOf(conflict.event, {}));
  const local = conflict.local[field];
  if (source === 'remote' || local?.eventId === undefined) return remote;
  if (source === 'local') return provenanceOf(local);
  return orderWrites(remoteWrite(conflict), local).cmp >= 0 ? remote : provenanceOf(local);
};

/**
 * What to write after a resolution, for `applyChanges`: the event's non-overlapping fields plus every
 * overlapping field not kept local, each credited to the write whose value it is (`creditedWrite`).
 * Nothing for `rejected`, nor for `pending_review` without a provisional strategy (the conflict is held
 * until a human decides).
 */
export const resolutionChanges = (conflict: Conflict, result: StrategyResult): FieldChangeSet | undefined => {
  if (result.decision === 'rejected') return undefined;
  if (result.decision === 'pending_review' && result.review?.provisionalStrategy === undefined)
    return undefined;
  const overlapping = new Set(conflict.overlappingFields);
  const fields: Record<string, JsonValue> = {};
  const provenance: Record<string, WriteProvenance> = {};
  for (const field of Object.keys(conflict.event.data)) {
    if (!overlapping.has(field)) fields[field] = conflict.event.data[field] ?? null;
  }
  for (const choice of result.choices) {
    if (choice.source === 'local' || choice.value === undefined) continue;
    fields[choice.field] = choice.value;
    if (choice.source === 'merged')
      provenance[choice.field] = creditedWrite(conflict, choice.field, 'merged');
  }
  const change = changeSetOf(conflict.event, fields);
  return Object.keys(provenance).length === 0 ? change : { ...change, provenance };
};
