/** The topics services talk through (DESIGN §4). Keys: aggregate id, except outcomes (event id). */
export const Topics = {
  submit: 'concord.events.submit',
  applied: 'concord.events.applied',
  conflictDetected: 'concord.conflicts.detected',
  conflictResolved: 'concord.conflicts.resolved',
  projected: 'concord.aggregates.projected',
  outcome: 'concord.events.outcome',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];

/** Every outcome an event can have (DESIGN §3). */
export const OUTCOMES = [
  'applied',
  'merged',
  'duplicate',
  'superseded',
  'conflict',
  'resolved',
  'pending_review',
  'rejected',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes after which nothing more happens to an event. `conflict` and `pending_review` are intermediate. */
export const isFinalOutcome = (outcome: Outcome): boolean =>
  outcome !== 'conflict' && outcome !== 'pending_review';
