import type { Logger } from '@concord/core';
import type { Outcome } from '@concord/core/messages';
import type { AppendResult } from '@concord/outbox';
import type { EventError, InvalidItem } from './intake.js';

/** One event's result, as `POST /v1/events` returns it (DESIGN §5). */
export interface EventResult {
  /** The event's id; null when the submitted id itself was unusable. */
  readonly id: string | null;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  /** For a duplicate: the outcome the event with this id has. */
  readonly originalOutcome?: Outcome;
  readonly error?: EventError | { readonly code: string; readonly message: string };
}

export const fromAppend = (result: AppendResult): EventResult => ({
  id: result.id,
  outcome: result.outcome,
  ...(result.version === undefined ? {} : { version: result.version }),
  ...(result.conflictId === undefined ? {} : { conflictId: result.conflictId }),
  ...(result.originalOutcome === undefined ? {} : { originalOutcome: result.originalOutcome }),
  ...(result.error === undefined ? {} : { error: result.error }),
});

/**
 * One debug line per event with its result, written in the request's or message's trace, so an event's
 * log lines are found by its trace id (or its event id).
 */
export const logResults = (
  logger: Logger,
  results: readonly EventResult[],
  context: Readonly<Record<string, string>>,
): void => {
  for (const result of results) {
    logger.debug(
      {
        ...context,
        eventId: result.id,
        outcome: result.outcome,
        ...(result.version === undefined ? {} : { version: result.version }),
        ...(result.conflictId === undefined ? {} : { conflictId: result.conflictId }),
        ...(result.error === undefined ? {} : { code: result.error.code }),
      },
      'event recorded',
    );
  }
};

export const rejectedResult = (item: InvalidItem): EventResult => ({
  id: item.id ?? null,
  outcome: 'rejected',
  error: item.error,
});

/** The answer to another event with the id of `original` (DESIGN §3): `duplicate`, and its outcome. */
export const duplicateResult = (id: string, original: EventResult): EventResult => ({
  ...original,
  id,
  outcome: 'duplicate',
  originalOutcome: original.outcome,
});
