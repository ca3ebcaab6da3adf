import { ConcordError, isPlainObject, coreErrors } from '@concord/core';
import { escapeUnstorable, scopeId, validateBatch, validateEvent } from '@concord/core/envelope';
import type { EnvelopeLimits, EventEnvelope, EventProblem, EventValidation } from '@concord/core/envelope';

/** A per-event error as results report it: a stable code, a message, and every problem found. */
export interface EventError {
  readonly code: string;
  readonly message: string;
  readonly details?: { readonly problems: readonly IntakeProblem[] };
}

/**
 * A validation problem, as core reports it: a stable `CONCORD_EVENT_*` code and the path. Text Postgres
 * cannot store (U+0000, unpaired surrogates) is core's `CONCORD_EVENT_UNSTORABLE`, caught before the
 * event reaches a transaction.
 */
export type IntakeProblem = EventProblem;

/**
 * One submitted event after validation: a valid envelope, or an invalid event with what could be read
 * from it. `id` is set only when the event's id itself is valid, so it can key an outcome.
 */
export type IntakeItem =
  | { readonly valid: true; readonly event: EventEnvelope }
  | {
      readonly valid: false;
      readonly id: string | undefined;
      readonly type: string;
      readonly aggregateType: string;
      readonly aggregateId: string;
      readonly error: EventError;
    };

/** An event that failed validation, with what could be read of it. */
export type InvalidItem = Extract<IntakeItem, { valid: false }>;

/**
 * What an invalid event's result and `rejected` outcome echo of it — its type, aggregate and the
 * problems' messages, which may quote what was sent — is escaped to storable text (`\u0000` for U+0000),
 * so every consumer of the outcome can store it (a notifier's log refused the raw text).
 */
const text = (value: unknown): string => (typeof value === 'string' ? escapeUnstorable(value) : '');

const storableProblem = (problem: IntakeProblem): IntakeProblem => ({
  ...problem,
  path: escapeUnstorable(problem.path),
  message: escapeUnstorable(problem.message),
});

const invalidItem = (input: unknown, found: readonly IntakeProblem[]): IntakeItem => {
  const raw = isPlainObject(input) ? input : {};
  const idOk = typeof raw['id'] === 'string' && !found.some((p) => p.path === 'id');
  const problems = found.map(storableProblem);
  const summary = problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('; ');
  return {
    valid: false,
    id: idOk ? (raw['id'] as string) : undefined,
    type: text(raw['type']),
    // CloudEvents name these `aggregatetype` and `subject`.
    aggregateType: text(raw['aggregateType'] ?? raw['aggregatetype']),
    aggregateId: text(raw['aggregateId'] ?? raw['subject']),
    error: {
      code: problems[0]?.code ?? coreErrors.EVENT_NOT_OBJECT.code,
      message: `invalid event: ${summary}`,
      details: { problems },
    },
  };
};

/** One event's item: its envelope, or what could be read of it with its problems. */
export const itemOf = (input: unknown, validation: EventValidation): IntakeItem =>
  validation.ok ? { valid: true, event: validation.event } : invalidItem(input, validation.problems);

/**
 * An HTTP batch (`{ "events": [...] }`, or a bare array). A body that is not a batch
 * (`CONCORD_BATCH_INVALID`) or has too many events (`CONCORD_BATCH_TOO_LARGE`) throws; every event is
 * otherwise validated on its own, so a bad one never affects the others.
 */
export const parseBatch = (body: unknown, limits: Partial<EnvelopeLimits>): IntakeItem[] => {
  const batch = validateBatch(body, limits);
  if (!batch.ok) throw batch.error;
  const events = (Array.isArray(body) ? body : (body as { events: unknown[] }).events) as unknown[];
  return batch.results.map((validation, i) => itemOf(events[i], validation));
};

/** A `concord.events.submit` payload: one envelope or CloudEvent, or a batch `{ "events": [...] }`. */
export const parseSubmit = (payload: unknown, limits: Partial<EnvelopeLimits>): IntakeItem[] =>
  isPlainObject(payload) && 'events' in payload && !('specversion' in payload) && !('data' in payload)
    ? parseBatch(payload, limits)
    : [itemOf(payload, validateEvent(payload, limits))];

/** True when nothing in the items can be recorded or answered: no valid event, no usable id. */
export const nothingUsable = (items: readonly IntakeItem[]): boolean =>
  items.every((item) => !item.valid && item.id === undefined);

/** The error that dead-letters a submit message with nothing usable in it. */
export const unusableMessageError = (items: readonly IntakeItem[]): ConcordError => {
  const first = items.find((item) => !item.valid);
  const code = first !== undefined && !first.valid ? first.error.code : coreErrors.BATCH_INVALID.code;
  const message = first !== undefined && !first.valid ? first.error.message : 'the batch holds no events';
  return new ConcordError(code, `submit message has no usable event: ${message}`, {
    details: first !== undefined && !first.valid ? first.error.details : undefined,
  });
};

/**
 * The items as stored for `tenant` (DESIGN §5 "Tenants"): each event's id and aggregate id scoped by
 * the tenant, so the same ids in two tenants are two events and two aggregates everywhere downstream.
 * Validation refused U+001F in every id, so no item names another tenant's. The default tenant's are
 * unchanged.
 */
export const scopeItems = (
  items: readonly IntakeItem[],
  tenant: string | undefined,
): readonly IntakeItem[] => {
  if (tenant === undefined) return items;
  return items.map((item): IntakeItem => {
    if (item.valid) {
      const { event } = item;
      return {
        valid: true,
        event: { ...event, id: scopeId(tenant, event.id), aggregateId: scopeId(tenant, event.aggregateId) },
      };
    }
    return {
      ...item,
      id: item.id === undefined ? undefined : scopeId(tenant, item.id),
      aggregateId: item.aggregateId === '' ? '' : scopeId(tenant, item.aggregateId),
    };
  });
};
