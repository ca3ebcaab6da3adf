/**
 * The three kinds of dead letters (DESIGN §5 "Dead letters"): outbox rows the relay gave up on, bus
 * messages a consumer group gave up on (`<topic>.dlq`), webhook deliveries that used up their attempts.
 */
export const DEAD_LETTER_KINDS = ['outbox', 'bus', 'webhook'] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

/** What a listing or a bulk replay is narrowed to. Each source says which of these it understands. */
export interface DeadLetterFilter {
  /** The topic the message was for (outbox, bus). */
  readonly topic?: string;
  /** The consumer group that gave up on it (bus). */
  readonly group?: string;
  /** The subscription a delivery was for (webhook). */
  readonly subscriptionId?: string;
  /** The last error's code. */
  readonly errorCode?: string;
  /** Dead-lettered at or before this instant (ISO 8601). */
  readonly before?: string;
}

export type DeadLetterFilterName = keyof DeadLetterFilter;

/**
 * One dead letter as the API shows it: what every kind has, then what its kind adds. Never a payload or
 * a secret; a webhook URL masked.
 */
export interface DeadLetterView {
  readonly kind: DeadLetterKind;
  /** Unique within its kind; what replay takes. */
  readonly id: string;
  readonly errorCode: string;
  readonly error: string;
  /** Attempts made, the last included. */
  readonly attempts: number;
  readonly deadLetteredAt: string;
  /** outbox, bus: the message. */
  readonly messageId?: string;
  readonly topic?: string;
  readonly key?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly payloadBytes?: number;
  /** bus: the consumer group that gave up. */
  readonly group?: string;
  /** outbox: when the row was written. */
  readonly createdAt?: string;
  /** webhook: the delivery (its id is the `webhook-id` receivers dedupe on). */
  readonly notificationId?: string;
  readonly subscriptionId?: string;
  readonly url?: string;
  readonly lastStatus?: number;
}

export interface DeadLetterPageView {
  readonly deadLetters: DeadLetterView[];
  /** Cursor of the next page (`after`); null on the last. */
  readonly next: string | null;
}

/** A dead letter that is there but cannot be replayed (its subscription was deleted, say). */
export interface RefusedReplay {
  readonly id: string;
  /** Why, for programs: `subscription_deleted`, `notification_pruned`. */
  readonly reason: string;
  readonly message: string;
}

export interface ReplayOutcome {
  /** Replayed now, in the order they went. */
  readonly replayed: string[];
  /** No such dead letter (never was, replayed already, or not this service's). */
  readonly missing: string[];
  readonly refused: RefusedReplay[];
}

/**
 * Where one kind of dead letters is kept, as the routes use it. A replay is atomic per call: every
 * dead letter it names or matches is replayed and removed in one transaction.
 */
export interface DeadLetterSource {
  readonly kind: DeadLetterKind;
  /** The filter parts it understands; another is refused (400). */
  readonly filters: readonly DeadLetterFilterName[];
  list(options: {
    readonly limit: number;
    readonly after?: string;
    readonly filter: DeadLetterFilter;
  }): Promise<DeadLetterPageView>;
  replay(ids: readonly string[]): Promise<ReplayOutcome>;
  /** Up to `limit` dead letters matching `filter`, oldest first; `more` when as many as the limit went. */
  replayMatching(
    filter: DeadLetterFilter,
    limit: number,
  ): Promise<{ readonly replayed: string[]; readonly more: boolean }>;
}
