import type { coreErrors } from '../errors.js';
import type { EventEnvelope } from '../envelope/types.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { VersionVector } from '../versions/vector.js';

/** A writer's position in a version vector: the `counter`-th event of `node`. */
export interface Dot {
  readonly node: string;
  readonly counter: number;
}

/** What the aggregate knows about the last change to one field. */
export interface FieldVersion {
  /** Aggregate version at which the field last changed. */
  readonly version: number;
  /** Id of the event whose value the field holds (DESIGN §6, provenance). */
  readonly eventId?: string;
  /** The writer's own HLC stamp of that change (the event's `hlc`), when it sent one. */
  readonly hlc?: string;
  /** The HLC ingest stamped on that event when it accepted it (DESIGN §6: the clock LWW falls back to). */
  readonly serverHlc?: string;
  /** Writer that made it. */
  readonly origin?: string;
  /** `metadata.source` of the event that made it (for `prefer_source`). */
  readonly source?: string;
  /** The writer's dot, when the event carried `origin` and `clock`: precise "has the writer seen it". */
  readonly dot?: Dot;
}

/**
 * Who wrote a value: the event whose value it is, with that event's clocks, origin, source and dot —
 * a field version without the aggregate version.
 */
export type WriteProvenance = Omit<FieldVersion, 'version'>;

/**
 * An aggregate's current state as the event store keeps it. A new aggregate is `undefined`.
 * `version` counts applied changes; `vector` is the merge of the clocks of every applied event.
 */
export interface AggregateState {
  readonly version: number;
  readonly vector: VersionVector;
  readonly fields: JsonObject;
  readonly fieldVersions: Readonly<Record<string, FieldVersion>>;
}

/** How the incoming event relates to the state it conflicts or merges with. */
export type VersionRelation =
  /** `baseVersion` is behind the aggregate (no vector information decided it). */
  | 'stale_base'
  /** The event's clock is concurrent with the aggregate's vector. */
  | 'concurrent';

/** The local (current) side of one overlapping field. */
export interface LocalFieldChange extends FieldVersion {
  /** Current value (`undefined` when the field was removed or never set). */
  readonly value: JsonValue | undefined;
}

/** Everything the resolver needs to know about a concurrent change, beyond the event itself. */
export interface ConflictDetails {
  readonly relation: VersionRelation;
  /** The aggregate version the event conflicts with. */
  readonly currentVersion: number;
  readonly baseVersion?: number;
  /** Fields the event sets (its `data` keys), sorted. */
  readonly changedFields: readonly string[];
  /** Fields changed concurrently with the event (after its base / not seen by its clock), sorted. */
  readonly concurrentFields: readonly string[];
  /** changedFields ∩ concurrentFields, sorted. */
  readonly overlappingFields: readonly string[];
  /** Per overlapping field, the current value and who set it. */
  readonly local: Readonly<Record<string, LocalFieldChange>>;
}

/**
 * A conflict held for the resolver: the incoming ("remote") event plus the details `classify` computed.
 * "local" always means the aggregate's current state, "remote" the incoming event.
 */
export interface Conflict extends ConflictDetails {
  /** Conflict id (assigned by ingest; the event id works when there is one conflict per event). */
  readonly id: string;
  readonly event: EventEnvelope;
}

/** Classification of an incoming event against the aggregate's state (DESIGN §3). */
export type Classification =
  | {
      readonly outcome: 'applied';
      /** The aggregate version after applying. */
      readonly version: number;
      readonly changedFields: readonly string[];
    }
  | {
      readonly outcome: 'merged';
      readonly version: number;
      readonly changedFields: readonly string[];
      readonly relation: VersionRelation;
      /** Fields others changed concurrently (disjoint from changedFields). */
      readonly concurrentFields: readonly string[];
    }
  | {
      readonly outcome: 'superseded';
      /** The aggregate version, unchanged. */
      readonly version: number;
      readonly reason: string;
    }
  | {
      readonly outcome: 'conflict';
      /** The aggregate version, unchanged until the resolver decides. */
      readonly version: number;
      readonly details: ConflictDetails;
    }
  | {
      readonly outcome: 'rejected';
      readonly code: ClassifyRejectionCode;
      readonly reason: string;
    };

/** The codes of events `classify` rejects, and of those whose derived messages would not fit. */
export type ClassifyRejectionCode =
  | typeof coreErrors.CONFLICT_BASE_VERSION_AHEAD.code
  | typeof coreErrors.EVENT_CLOCK_AHEAD.code
  | typeof coreErrors.AGGREGATE_TOO_LARGE.code;
