/** A JSON value, as Concord's API carries it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** An event's outcome (DESIGN §3). */
export type Outcome =
  'applied' | 'merged' | 'duplicate' | 'superseded' | 'conflict' | 'resolved' | 'pending_review' | 'rejected';

/** The event envelope a client sends (DESIGN §2), and the members of one the feed serves. */
export interface EventEnvelope {
  readonly id: string;
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly baseVersion?: number;
  readonly hlc?: string;
  /** Ingest's stamp (feed and `GET /v1/events/:id` only). */
  readonly serverHlc?: string;
  readonly origin?: string;
  readonly data: JsonObject;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What `client.change` takes: one change to one aggregate (DESIGN §2, patch semantics). */
export interface ChangeInput {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly type: string;
  /** The fields this change sets. */
  readonly data: JsonObject;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Where a queued change stands:
 * - `queued`: not answered by the server yet (pushed again, under the same id, until it is);
 * - `sent`: applied or merged at `version`; shown on top until the confirmed state reaches it;
 * - `conflict`: held for the resolver; shown on top until the decision;
 * - `pending_review`: a person decides; the server's provisional state shows meanwhile;
 * - `settled`: decided at `version`; the decision shows once the confirmed state reaches it.
 */
export type PendingStatus = 'queued' | 'sent' | 'conflict' | 'pending_review' | 'settled';

/** A change recorded locally and not yet part of the confirmed state. */
export interface PendingChange {
  /** Queue order. */
  readonly seq: number;
  /** The event id: the idempotency key, the same on every retry. */
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The aggregate version this change was made against. */
  readonly baseVersion: number;
  readonly hlc: string;
  readonly origin: string;
  /**
   * The queued change to the same aggregate made just before this one: this one is pushed only after
   * the server answered that one (and based on its version when it applied cleanly).
   */
  readonly after?: string;
  readonly status: PendingStatus;
  readonly outcome?: Outcome;
  /** The version the change (or the decision on it) holds on the server. */
  readonly version?: number;
  readonly conflictId?: string;
}

/** The server's state of an aggregate as the feed confirmed it. */
export interface ConfirmedAggregate {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly fields: JsonObject;
}

/** `client.get`: the confirmed state with the pending local changes on top. */
export interface LocalAggregate {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The confirmed version (0: the server has shown nothing of it yet). */
  readonly version: number;
  readonly fields: JsonObject;
  /** Local changes shown on top of the confirmed state. */
  readonly pending: number;
}

/** An outcome a change reached, as the client learned it. */
export interface OutcomeNotice {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** For a decided conflict: the server's decision record (rule, strategy, reasons, fields). */
  readonly decision?: JsonObject;
}

/** One result of a push, as `POST /v1/events` answered it. */
export interface PushResult {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly outcome: Outcome;
  /** For a `duplicate` (a retry of an event the server has): the outcome the event has. */
  readonly originalOutcome?: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** One applied event the pull brought in. */
export interface PulledEvent {
  readonly id: string;
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly outcome: Outcome;
}

/** What one `client.sync()` did. */
export interface SyncResult {
  readonly pushed: readonly PushResult[];
  readonly pulled: readonly PulledEvent[];
  /** Every outcome the client learned in this sync: of pushed changes and of earlier conflicts. */
  readonly outcomes: readonly OutcomeNotice[];
}

export interface ClientStatus {
  /** The last request reached the server. */
  readonly online: boolean;
  readonly syncing: boolean;
  /** Changes not yet part of the confirmed state. */
  readonly pending: number;
  /** Autosync's stream is connected. */
  readonly streaming: boolean;
}
