import type { JsonObject, JsonValue } from '../json.js';
import type { VersionVector } from '../versions/vector.js';

/** Event metadata: string keys, JSON values (usually strings such as `tenant`, `userId`, `source`). */
export type EventMetadata = Readonly<Record<string, JsonValue>>;

/**
 * A change event as Concord receives it (DESIGN §2). `data` has patch semantics: the fields it names are
 * set, all other fields of the aggregate are left alone.
 */
export interface EventEnvelope {
  /** Client-chosen, unique: the idempotency key. */
  readonly id: string;
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Aggregate version the writer last saw (optimistic concurrency). */
  readonly baseVersion?: number;
  /** Version vector of the writer, including this event (multi-writer causality). */
  readonly clock?: VersionVector;
  /** Hybrid logical clock stamp (see `formatHlc`), used for last-writer ordering. */
  readonly hlc?: string;
  /** Writer / node id. */
  readonly origin?: string;
  /**
   * The HLC ingest stamped on the event when it accepted it (DESIGN §6), kept beside the writer's own
   * `hlc`. Never taken from a client: validation knows no such member.
   */
  readonly serverHlc?: string;
  readonly data: JsonObject;
  readonly metadata?: EventMetadata;
}

/** Limits applied by validation. All are configurable; see `DEFAULT_ENVELOPE_LIMITS`. */
export interface EnvelopeLimits {
  /** Maximum size of one event, measured as the UTF-8 bytes of its JSON form. */
  readonly maxEventBytes: number;
  /** Maximum number of events in one batch. */
  readonly maxBatchSize: number;
  /** Maximum length (UTF-16 code units) of `id`, `aggregateId`, `aggregateType`, `type`, `origin`. */
  readonly maxIdLength: number;
  /** Maximum number of entries in an event's version vector. */
  readonly maxClockEntries: number;
  /**
   * Maximum nesting of arrays and objects in `data` and in `metadata` (the member itself is level 1).
   * Deeper JSON is still small on the wire (2 bytes a level) but breaks every recursive reader of it
   * (`JSON.stringify` overflows its stack at a few thousand levels, Postgres at its `max_stack_depth`).
   */
  readonly maxDepth: number;
  /** Accept unknown top-level members (they are dropped) instead of rejecting the event. */
  readonly allowUnknownMembers: boolean;
}

export const DEFAULT_ENVELOPE_LIMITS: EnvelopeLimits = Object.freeze({
  maxEventBytes: 256 * 1024,
  maxBatchSize: 1000,
  maxIdLength: 200,
  maxClockEntries: 64,
  maxDepth: 64,
  allowUnknownMembers: false,
});
