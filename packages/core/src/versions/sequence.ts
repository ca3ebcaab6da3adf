/**
 * Aggregate versions are a dense sequence: a new aggregate is at version 0, and every applied or merged
 * event (and every resolution that changes fields) moves it to the next version.
 */
export type AggregateVersion = number;

/** The version of an aggregate that does not exist yet. */
export const INITIAL_VERSION: AggregateVersion = 0;

/** The version after `version`. */
export const nextVersion = (version: AggregateVersion): AggregateVersion => version + 1;

/** True for a valid aggregate version: a non-negative safe integer. */
export const isAggregateVersion = (value: unknown): value is AggregateVersion =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
