import type { EventEnvelope } from '../envelope/types.js';
import type { JsonObject, JsonValue } from '../json.js';
import {
  DEFAULT_MAX_VECTOR_ENTRIES,
  mergeVectors,
  pruneVector,
  type VersionVector,
} from '../versions/vector.js';
import type { AggregateState, FieldVersion, WriteProvenance } from './types.js';

/** The empty state a new aggregate starts from (version 0). */
export const EMPTY_AGGREGATE: AggregateState = Object.freeze({
  version: 0,
  vector: Object.freeze({}),
  fields: Object.freeze({}),
  fieldVersions: Object.freeze({}),
});

/** A change to write: field values plus who made it. */
export interface FieldChangeSet {
  readonly fields: JsonObject;
  readonly eventId: string;
  readonly hlc?: string;
  readonly serverHlc?: string;
  readonly origin?: string;
  readonly source?: string;
  /** Clock to fold into the aggregate's vector. */
  readonly clock?: VersionVector;
  /**
   * Per field, the write whose value it is when that is not the change's own event (a resolution that
   * keeps or restores another write's value, a merge credited to the later write). Fields not named
   * here are credited to the change's event.
   */
  readonly provenance?: Readonly<Record<string, WriteProvenance>>;
}

/** Options for `applyChanges` / `applyPatch`. */
export interface ApplyOptions {
  /** Bound on the stored vector's entries (see `pruneVector`); default 64. */
  readonly maxVectorEntries?: number;
}

/**
 * Produce the next aggregate state: version + 1, the given fields set (patch semantics), their field
 * versions stamped with the new version and the change's provenance, the vector merged and pruned.
 * Pure: `state` is not modified.
 */
export const applyChanges = (
  state: AggregateState | undefined,
  change: FieldChangeSet,
  options: ApplyOptions = {},
): AggregateState => {
  const current = state ?? EMPTY_AGGREGATE;
  const version = current.version + 1;
  const fields: Record<string, JsonValue> = { ...current.fields };
  const fieldVersions: Record<string, FieldVersion> = { ...current.fieldVersions };
  const stamp: FieldVersion = { version, ...writeOf(change) };
  for (const field of Object.keys(change.fields)) {
    fields[field] = change.fields[field] ?? null;
    const credited = change.provenance?.[field];
    fieldVersions[field] = credited === undefined ? stamp : { version, ...credited };
  }
  const merged = change.clock === undefined ? current.vector : mergeVectors(current.vector, change.clock);
  const vector = pruneVector(merged, {
    maxEntries: options.maxVectorEntries ?? DEFAULT_MAX_VECTOR_ENTRIES,
    ...(change.origin === undefined ? {} : { keep: change.origin }),
  });
  return { version, vector, fields, fieldVersions };
};

/**
 * Apply an event `classify` called `applied` or `merged`: all of its `data` is written with the event's
 * id, HLC, origin, `metadata.source` and clock as provenance.
 */
export const applyPatch = (
  state: AggregateState | undefined,
  event: EventEnvelope,
  options: ApplyOptions = {},
): AggregateState => applyChanges(state, changeSetOf(event), options);

/** The provenance of a change's own event: its id, clocks, origin, source and dot. */
export const writeOf = (change: FieldChangeSet): WriteProvenance => {
  const counter = change.origin !== undefined ? change.clock?.[change.origin] : undefined;
  return {
    eventId: change.eventId,
    ...(change.hlc === undefined ? {} : { hlc: change.hlc }),
    ...(change.serverHlc === undefined ? {} : { serverHlc: change.serverHlc }),
    ...(change.origin === undefined ? {} : { origin: change.origin }),
    ...(change.source === undefined ? {} : { source: change.source }),
    ...(change.origin !== undefined && counter !== undefined
      ? { dot: { node: change.origin, counter } }
      : {}),
  };
};

/**
 * What a field version (or a conflict's local side) says about its writer: its members but the
 * aggregate version (and a local side's value).
 */
export const provenanceOf = (fv: FieldVersion): WriteProvenance => ({
  ...(fv.eventId === undefined ? {} : { eventId: fv.eventId }),
  ...(fv.hlc === undefined ? {} : { hlc: fv.hlc }),
  ...(fv.serverHlc === undefined ? {} : { serverHlc: fv.serverHlc }),
  ...(fv.origin === undefined ? {} : { origin: fv.origin }),
  ...(fv.source === undefined ? {} : { source: fv.source }),
  ...(fv.dot === undefined ? {} : { dot: fv.dot }),
});

/** The change set an event carries (all of its data). */
export const changeSetOf = (event: EventEnvelope, fields: JsonObject = event.data): FieldChangeSet => {
  const source = event.metadata?.['source'];
  return {
    fields,
    eventId: event.id,
    ...(event.hlc === undefined ? {} : { hlc: event.hlc }),
    ...(event.serverHlc === undefined ? {} : { serverHlc: event.serverHlc }),
    ...(event.origin === undefined ? {} : { origin: event.origin }),
    ...(typeof source === 'string' ? { source } : {}),
    ...(event.clock === undefined ? {} : { clock: event.clock }),
  };
};
