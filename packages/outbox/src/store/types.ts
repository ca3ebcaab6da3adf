import type { JsonObject } from '@concord/core';
import type { AggregateState, Classification, WriteProvenance } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { OutboxMessage } from '../outbox/writer.js';

/** The result of appending one event: its outcome (DESIGN §3), as the HTTP API reports it. */
export interface AppendResult {
  readonly id: string;
  readonly outcome: Outcome;
  /** Aggregate version the event produced (applied/merged), or the version it was classified against. */
  readonly version?: number;
  readonly conflictId?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** For a duplicate: the outcome the event with this id has (its original, or its later one). */
  readonly originalOutcome?: Outcome;
}

/** An event the store just classified, with the aggregate state after it; input to message producers. */
export interface AppendedEvent {
  readonly event: EventEnvelope;
  readonly classification: Classification;
  readonly result: AppendResult;
  /** Aggregate state after the event (unchanged unless applied/merged). */
  readonly state: AggregateState;
  /** When the append ran (injected clock), ISO-8601. */
  readonly at: string;
}

/** Turns an appended event into the outbox messages written in the same transaction. */
export type MessageProducer = (appended: AppendedEvent) => OutboxMessage[];

/** A stored event with its current outcome, as `GET /v1/events/:id` returns it. */
export interface StoredEvent {
  readonly event: EventEnvelope;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  /** Classification details: conflict details, supersession or rejection reason, later decisions. */
  readonly details: JsonObject;
  /** Earlier outcomes, oldest first. */
  readonly history: readonly {
    readonly outcome: Outcome;
    readonly at: string;
    readonly details: JsonObject;
  }[];
  readonly recordedAt: string;
}

/** One event of the pull feed. */
export interface FeedEvent {
  readonly event: EventEnvelope;
  readonly outcome: Outcome;
  readonly version: number;
  /**
   * On a change the resolver applied: per field it sets, the write whose value it is (what the fold of
   * a rebuild credits the field to, as the live aggregate does). Absent on submitted events.
   */
  readonly provenance?: Readonly<Record<string, WriteProvenance>>;
  /** Cursor just after this event. */
  readonly cursor: string;
}

export interface FeedPage {
  readonly events: readonly FeedEvent[];
  /** Pass as `after` for the next page; equals `after` when nothing new committed. */
  readonly next: string;
}
