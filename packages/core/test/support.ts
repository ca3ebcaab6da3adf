import type { JsonObject } from '@concord/core';
import type { Conflict, LocalFieldChange } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';

/** Options for `makeConflict`. */
export interface MakeConflictOptions {
  readonly event?: Partial<EventEnvelope>;
  /** Incoming values (event data). Overlapping fields are the keys also present in `local`. */
  readonly remote?: JsonObject;
  readonly local?: Readonly<Record<string, Partial<LocalFieldChange>>>;
  readonly relation?: Conflict['relation'];
}

/** Build a conflict for strategy and policy tests. */
export const makeConflict = (options: MakeConflictOptions = {}): Conflict => {
  const remote = options.remote ?? { title: 'remote' };
  const local: Record<string, LocalFieldChange> = {};
  for (const [field, side] of Object.entries(options.local ?? { title: { value: 'local' } })) {
    local[field] = { version: 2, value: undefined, ...side };
  }
  const changedFields = Object.keys(remote).sort();
  const overlappingFields = changedFields.filter((f) => f in local);
  return {
    id: 'c1',
    event: {
      id: 'e-remote',
      type: 'TaskUpdated',
      aggregateType: 'task',
      aggregateId: 'task-1',
      data: remote,
      ...options.event,
    },
    relation: options.relation ?? 'stale_base',
    currentVersion: 3,
    baseVersion: 1,
    changedFields,
    concurrentFields: Object.keys(local).sort(),
    overlappingFields,
    local,
  };
};

export const hlc = (wall: number, node = 'n', logical = 0): string =>
  `${String(wall).padStart(15, '0')}-${String(logical).padStart(6, '0')}-${node}`;
