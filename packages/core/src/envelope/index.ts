import { ConcordError, coreErrors } from '../errors.js';
import { isCloudEvent, validateCloudEvent } from './cloudevents.js';
import type { EnvelopeLimits, EventEnvelope } from './types.js';
import { eventValidationError, type EventValidation, resolveLimits, validateEnvelope } from './validate.js';

/**
 * Validate one incoming event in either form: a CloudEvent (has `specversion`) or a Concord envelope.
 * Returns the normalised envelope or ALL problems with paths. Never throws.
 */
export const validateEvent = (input: unknown, limits: Partial<EnvelopeLimits> = {}): EventValidation =>
  isCloudEvent(input) ? validateCloudEvent(input, limits) : validateEnvelope(input, limits);

/** Like `validateEvent`, but throws a `ConcordError` (code of the first problem) for an invalid event. */
export const parseEvent = (input: unknown, limits: Partial<EnvelopeLimits> = {}): EventEnvelope => {
  const result = validateEvent(input, limits);
  if (!result.ok) throw eventValidationError(result.problems);
  return result.event;
};

/** The outcome of validating a batch: a batch-level error, or one independent result per event. */
export type BatchValidation =
  | { readonly ok: true; readonly results: readonly EventValidation[] }
  | { readonly ok: false; readonly error: ConcordError };

/**
 * Validate a batch: an array of events or `{ "events": [...] }`. A batch-level problem (not a batch,
 * more than `maxBatchSize` events) fails the whole batch; otherwise every event is validated on its own,
 * so one bad event never affects the others.
 */
export const validateBatch = (input: unknown, limits: Partial<EnvelopeLimits> = {}): BatchValidation => {
  const lim = resolveLimits(limits);
  const events: unknown =
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? (input as Record<string, unknown>)['events']
      : input;
  if (!Array.isArray(events)) {
    return {
      ok: false,
      error: new ConcordError(
        coreErrors.BATCH_INVALID,
        'body must be { "events": [ … ] } or an array of events',
      ),
    };
  }
  if (events.length > lim.maxBatchSize) {
    return {
      ok: false,
      error: new ConcordError(
        coreErrors.BATCH_TOO_LARGE,
        `batch has ${events.length} events, max ${lim.maxBatchSize}`,
        { details: { size: events.length, max: lim.maxBatchSize } },
      ),
    };
  }
  return { ok: true, results: events.map((event) => validateEvent(event, lim)) };
};
