import { DEFAULT_ENVELOPE_LIMITS } from '../envelope/types.js';
import { OUTCOMES } from './topics.js';
import type { Outcome } from './topics.js';

/**
 * Every id Concord derives from an event id, in one place: the ids of the messages each hop publishes
 * and of the events the resolver records its own changes under. A message id is an idempotency key
 * (inboxes dedupe by it), so each is a pure function of the id it derives from. The bus accepts message
 * ids up to {@link MAX_MESSAGE_ID_LENGTH}: the longest event id (DESIGN §2) plus the longest chain of
 * suffixes below, so the longest id the contract allows flows through every hop.
 */

/** Longest event id, and every other id-like member (DESIGN §2). */
export const MAX_ID_LENGTH = DEFAULT_ENVELOPE_LIMITS.maxIdLength;

/** Endings of the ids of the changes the resolver applies: `<conflict id>:resolution`, `…:provisional`. */
export const CHANGE_ID_SUFFIXES = ['resolution', 'provisional'] as const;
export type ChangeIdSuffix = (typeof CHANGE_ID_SUFFIXES)[number];

/** Id of the event recording a change the resolver applied for `conflictId` (a conflict's id is its event's). */
export const changeEventId = (conflictId: string, suffix: ChangeIdSuffix): string =>
  `${conflictId}:${suffix}`;

/** Ids of the messages derived from an event (or from a message, for the projector's). */
export const MessageIds = {
  /** `concord.events.applied` for an applied event (a client's, or a resolver's change). */
  applied: (eventId: string): string => `${eventId}:applied`,
  /** `concord.conflicts.detected` for an event that conflicts. */
  conflict: (eventId: string): string => `${eventId}:conflict`,
  /** `concord.events.outcome`, one per outcome an event reaches. */
  outcome: (eventId: string, outcome: Outcome): string => `${eventId}:outcome:${outcome}`,
  /** `concord.conflicts.resolved`, one per outcome a conflict reaches. */
  resolved: (conflictId: string, outcome: Outcome): string => `${conflictId}:${outcome}`,
  /** `concord.aggregates.projected`, for the applied message it projected. */
  projected: (appliedMessageId: string): string => `${appliedMessageId}:projected`,
} as const;

/**
 * Every message id Concord derives from the client event id `eventId`, through every chain of
 * derivations the services perform (e.g. a provisional change's applied message, projected).
 */
export const derivedMessageIds = (eventId: string): string[] => {
  const applied = [eventId, ...CHANGE_ID_SUFFIXES.map((suffix) => changeEventId(eventId, suffix))].map(
    MessageIds.applied,
  );
  return [
    ...applied,
    ...applied.map(MessageIds.projected),
    MessageIds.conflict(eventId),
    ...OUTCOMES.map((outcome) => MessageIds.outcome(eventId, outcome)),
    ...OUTCOMES.map((outcome) => MessageIds.resolved(eventId, outcome)),
  ];
};

/** Characters the longest derivation adds to an event id (`:provisional:applied:projected`, 30). */
export const LONGEST_DERIVED_SUFFIX = Math.max(...derivedMessageIds('').map((id) => id.length));

/** Longest message id the bus accepts: every id derived from the longest event id fits. */
export const MAX_MESSAGE_ID_LENGTH = MAX_ID_LENGTH + LONGEST_DERIVED_SUFFIX;
