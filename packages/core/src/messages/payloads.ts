import type { Conflict, FieldVersion } from '../conflict/types.js';
import type { DecisionRecord } from '../decision/record.js';
import type { EventEnvelope } from '../envelope/types.js';
import type { JsonObject } from '../json.js';
import type { VersionVector } from '../versions/vector.js';
import type { Outcome } from './topics.js';

/**
 * `concord.events.applied`: a change that is now part of the aggregate — a client event that applied
 * or merged, or a resolver decision. It carries the aggregate's full state after the change, so a
 * consumer can project it without reading the store, and stays idempotent by `version`.
 */
export interface AppliedMessage {
  readonly kind: 'applied';
  /** The event that changed the aggregate; for a resolution, the conflicting event's id. */
  readonly eventId: string;
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly outcome: 'applied' | 'merged' | 'resolved';
  /** The aggregate version this change produced. */
  readonly version: number;
  /** The fields this change set, with their new values. */
  readonly changes: JsonObject;
  /** The aggregate after the change. */
  readonly state: {
    readonly fields: JsonObject;
    readonly fieldVersions: Readonly<Record<string, FieldVersion>>;
    readonly vector: VersionVector;
  };
  readonly conflictId?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly origin?: string;
  readonly hlc?: string;
  /** ISO-8601 commit time. */
  readonly committedAt: string;
}

/** `concord.conflicts.detected`: a conflict held for the resolver. */
export interface ConflictDetectedMessage {
  readonly kind: 'conflict_detected';
  readonly conflict: Conflict;
  readonly detectedAt: string;
}

/** `concord.conflicts.resolved`: what the resolver decided, with the full decision record. */
export interface ConflictResolvedMessage {
  readonly kind: 'conflict_resolved';
  readonly conflictId: string;
  readonly eventId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly outcome: 'resolved' | 'pending_review' | 'rejected';
  /** Aggregate version after the decision was applied (absent when nothing was applied). */
  readonly version?: number;
  readonly decision: DecisionRecord;
}

/** `concord.aggregates.projected`: a read model caught up with an aggregate version. */
export interface ProjectedMessage {
  readonly kind: 'projected';
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly eventId: string;
  readonly fields: JsonObject;
  readonly backends: readonly string[];
}

/** `concord.events.outcome` (key: event id): an event's outcome, intermediate or final. */
export interface OutcomeMessage {
  readonly kind: 'outcome';
  readonly eventId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly outcome: Outcome;
  readonly final: boolean;
  readonly version?: number;
  readonly conflictId?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** `concord.events.submit`: one envelope (or CloudEvent), or a batch `{ events: [...] }`. */
export type SubmitMessage = EventEnvelope | { readonly events: readonly unknown[] };

export type ConcordMessage =
  AppliedMessage | ConflictDetectedMessage | ConflictResolvedMessage | ProjectedMessage | OutcomeMessage;
