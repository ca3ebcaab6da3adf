import { MAX_TENANT_LENGTH, TENANT_SEPARATOR } from '../envelope/tenants.js';
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

/**
 * A decided conflict can be reopened (`POST /v1/conflicts/:id/reopen`), at most {@link MAX_REOPENS} times.
 * Reopen `r` starts round `r` of the conflict (round 0 is its first decision), whose changes and messages
 * need ids of their own: the reopen's change `<conflict id>:reopen:<r>`, the change of the review it
 * opens, once settled, `<conflict id>:review:<r>`, and its messages the ids of round 0 with `:<r>` after.
 * Four digits keep every derivation within {@link LONGEST_DERIVED_SUFFIX}.
 */
export const MAX_REOPENS = 9999;

/** What a change of a reopened conflict's round is: the reopen's own, or the settled review's. */
export type RoundChange = 'reopen' | 'review';

/** Id of the event recording a change of round `round` ≥ 1 of the conflict `conflictId`. */
export const roundChangeEventId = (conflictId: string, round: number, change: RoundChange): string =>
  `${conflictId}:${change}:${round}`;

/** Event ids ending like a round's change (`:reopen:<n>`, `:review:<n>`); no submitted event may have one. */
export const ROUND_CHANGE_ID = /:(?:reopen|review):\d+$/;

/** A message id of round `round` of a conflict: round 0's id as it is, a later round's with `:<round>`. */
const inRound = (id: string, round: number): string => (round === 0 ? id : `${id}:${round}`);

/** Ids of the messages derived from an event (or from a message, for the projector's). */
export const MessageIds = {
  /** `concord.events.applied` for an applied event (a client's, or a resolver's change). */
  applied: (eventId: string): string => `${eventId}:applied`,
  /** `concord.conflicts.detected` for an event that conflicts. */
  conflict: (eventId: string): string => `${eventId}:conflict`,
  /** `concord.events.outcome`, one per outcome an event reaches (per round of its conflict). */
  outcome: (eventId: string, outcome: Outcome, round = 0): string =>
    inRound(`${eventId}:outcome:${outcome}`, round),
  /** `concord.conflicts.resolved`, one per outcome a conflict reaches (per round). */
  resolved: (conflictId: string, outcome: Outcome, round = 0): string =>
    inRound(`${conflictId}:${outcome}`, round),
  /** `concord.aggregates.projected`, for the applied message it projected. */
  projected: (appliedMessageId: string): string => `${appliedMessageId}:projected`,
} as const;

/**
 * Every message id Concord derives from the client event id `eventId`, through every chain of
 * derivations the services perform (e.g. a provisional change's applied message, projected).
 */
export const derivedMessageIds = (eventId: string): string[] => {
  const changes = [
    ...CHANGE_ID_SUFFIXES.map((suffix) => changeEventId(eventId, suffix)),
    roundChangeEventId(eventId, MAX_REOPENS, 'reopen'),
    roundChangeEventId(eventId, MAX_REOPENS, 'review'),
  ];
  const applied = [eventId, ...changes].map(MessageIds.applied);
  return [
    ...applied,
    ...applied.map(MessageIds.projected),
    MessageIds.conflict(eventId),
    ...[0, MAX_REOPENS].flatMap((round) => [
      ...OUTCOMES.map((outcome) => MessageIds.outcome(eventId, outcome, round)),
      ...OUTCOMES.map((outcome) => MessageIds.resolved(eventId, outcome, round)),
    ]),
  ];
};

/** Characters the longest derivation adds to an event id (`:provisional:applied:projected`, 30). */
export const LONGEST_DERIVED_SUFFIX = Math.max(...derivedMessageIds('').map((id) => id.length));

/**
 * Longest message id the bus accepts: every id derived from the longest event id of a tenant with the
 * longest name (its stored id `<tenant>` U+001F `<id>`, DESIGN §5 "Tenants") fits.
 */
export const MAX_MESSAGE_ID_LENGTH =
  MAX_TENANT_LENGTH + TENANT_SEPARATOR.length + MAX_ID_LENGTH + LONGEST_DERIVED_SUFFIX;
