import type { coreErrors } from '../errors.js';

/** The codes an event's validation reports (`coreErrors.EVENT_…`): part of the public contract. */
export type EventErrorCode = Extract<
  (typeof coreErrors)[keyof typeof coreErrors]['code'],
  `CONCORD_EVENT_${string}`
>;

/** One problem found in one event: a stable code, the JSON path of the offending member and a message. */
export interface EventProblem {
  readonly code: EventErrorCode;
  /** Path inside the event, e.g. `aggregateId`, `clock["phone-a"]`, `data.title`; empty for the event itself. */
  readonly path: string;
  readonly message: string;
}
