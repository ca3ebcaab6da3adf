import { canonicalJson } from '@concord/core';
import { changeSetOf, classify, toConflict } from '@concord/core/conflict';
import { creditedWrite } from '@concord/core/decision';
import { changeEventId } from '@concord/core/messages';
import type { JsonValue } from '@concord/core';
import type {
  AggregateState,
  Conflict,
  FieldChangeSet,
  LocalFieldChange,
  WriteProvenance,
} from '@concord/core/conflict';
import type { FieldSource } from '@concord/core/strategy';
import type { FieldWrite } from './conflict-records.js';

/**
 * The conflict against the aggregate as it is now. Ingest detected it at `currentVersion`; when the
 * aggregate moved since, the event is classified again against the current state, so the decision is
 * made against what is really there. Should the new classification not be a conflict (it cannot
 * normally: concurrent changes only accumulate), the detected overlap is kept with its local side
 * re-read from the state.
 */
export const refreshConflict = (
  conflict: Conflict,
  state: AggregateState | undefined,
): { readonly conflict: Conflict; readonly moved: boolean } => {
  if ((state?.version ?? 0) === conflict.currentVersion) return { conflict, moved: false };
  const classification = classify(state, conflict.event);
  if (classification.outcome === 'conflict') {
    return {
      conflict: toConflict({ id: conflict.id, event: conflict.event, details: classification.details }),
      moved: true,
    };
  }
  const local: Record<string, LocalFieldChange> = {};
  for (const field of conflict.overlappingFields) {
    const fv = state?.fieldVersions[field];
    local[field] = { ...fv, version: fv?.version ?? 0, value: state?.fields[field] };
  }
  return { conflict: { ...conflict, currentVersion: state?.version ?? 0, local }, moved: true };
};

export interface SettleInput {
  /** The conflict as it was decided when the review opened. */
  readonly conflict: Conflict;
  /** Final value per overlapping field (`undefined`: leave the field as it is). */
  readonly values: Readonly<Record<string, JsonValue | undefined>>;
  /** Where each overlapping field's final value comes from (core's `creditedWrite` credits it). */
  readonly sources: Readonly<Record<string, FieldSource>>;
  /** The aggregate now, under its lock. */
  readonly state: AggregateState | undefined;
  /** A provisional value was applied when the review opened (the event's other fields with it). */
  readonly provisionalApplied: boolean;
  /**
   * Given when a rejection takes a provisional apply back: what the event's other (non-overlapping)
   * fields held before it and who wrote it, to write back (a field missing here was not set then: it
   * becomes `null`, since a change can set fields but not remove them, credited to the resolution
   * itself, with no clock, as no event wrote it).
   */
  readonly restore?: Readonly<Record<string, FieldWrite>>;
}

export interface SettleOutput {
  /** What to write; undefined when the aggregate already holds the final values. */
  readonly change: FieldChangeSet | undefined;
  /** Fields left alone because somebody else changed them after the review opened. */
  readonly kept: readonly { readonly field: string; readonly eventId: string | undefined }[];
}

/**
 * What settling a reviewed conflict (a person's decision, or the timeout's escalation) writes: each
 * overlapping field's final value where it differs from the current one, and the event's other fields —
 * if no provisional value applied them already, or, when a rejection takes the provisional apply back
 * (`restore`), their earlier values where they differ from the current ones. A field changed by a later
 * write since the review opened keeps that newer value. Each field written is credited to the write
 * whose value it is: the event, the local side's writer, the later of both for a merged value
 * (`creditedWrite`), or the write a restored value came from.
 */
export const settleChanges = (input: SettleInput): SettleOutput => {
  const { conflict, state } = input;
  const fields: Record<string, JsonValue> = {};
  const provenance: Record<string, WriteProvenance> = {};
  const kept: { field: string; eventId: string | undefined }[] = [];
  const newer = (field: string): boolean => {
    const fv = state?.fieldVersions[field];
    if (fv === undefined || fv.version <= conflict.currentVersion) return false;
    return fv.eventId !== conflict.event.id && fv.eventId !== conflict.local[field]?.eventId;
  };
  /** Writes `value` unless a later write holds the field or it holds `value` already. */
  const settleTo = (field: string, value: JsonValue, write: WriteProvenance) => {
    if (newer(field)) {
      kept.push({ field, eventId: state?.fieldVersions[field]?.eventId });
      return;
    }
    const current = state?.fields[field];
    if (current !== undefined && canonicalJson(current) === canonicalJson(value)) return;
    fields[field] = value;
    if (write.eventId !== conflict.event.id) provenance[field] = write;
  };
  const revert: WriteProvenance = { eventId: changeEventId(conflict.id, 'resolution') };
  const overlapping = new Set(conflict.overlappingFields);
  for (const field of Object.keys(conflict.event.data)) {
    if (overlapping.has(field)) continue;
    if (!input.provisionalApplied) {
      if (newer(field)) kept.push({ field, eventId: state?.fieldVersions[field]?.eventId });
      else fields[field] = conflict.event.data[field] ?? null;
    } else if (input.restore !== undefined) {
      const restored = input.restore[field];
      settleTo(field, restored?.value ?? null, restored?.write ?? revert);
    }
  }
  for (const field of conflict.overlappingFields) {
    const value = input.values[field];
    if (value !== undefined)
      settleTo(field, value, creditedWrite(conflict, field, input.sources[field] ?? 'remote'));
  }
  if (Object.keys(fields).length === 0) return { change: undefined, kept };
  const change = changeSetOf(conflict.event, fields);
  return { change: Object.keys(provenance).length === 0 ? change : { ...change, provenance }, kept };
};
