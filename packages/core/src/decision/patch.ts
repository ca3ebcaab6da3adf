import { changeSetOf, type FieldChangeSet } from '../conflict/apply.js';
import type { Conflict } from '../conflict/types.js';
import type { JsonValue } from '../json.js';
import type { StrategyResult } from '../strategy/types.js';

/**
 * What to write after a resolution, for `applyChanges`: the event's non-overlapping fields plus every
 * overlapping field not kept local, with the event's provenance. Nothing for `rejected`, nor for
 * `pending_review` without a provisional strategy (the conflict is held until a human decides).
 */
export const resolutionChanges = (conflict: Conflict, result: StrategyResult): FieldChangeSet | undefined => {
  if (result.decision === 'rejected') return undefined;
  if (result.decision === 'pending_review' && result.review?.provisionalStrategy === undefined)
    return undefined;
  const overlapping = new Set(conflict.overlappingFields);
  const fields: Record<string, JsonValue> = {};
  for (const field of Object.keys(conflict.event.data)) {
    if (!overlapping.has(field)) fields[field] = conflict.event.data[field] ?? null;
  }
  for (const choice of result.choices) {
    if (choice.source !== 'local' && choice.value !== undefined) fields[choice.field] = choice.value;
  }
  return changeSetOf(conflict.event, fields);
};
