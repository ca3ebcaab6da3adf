import { ConcordError, isPlainObject } from '@concord/core';
import { localId, tenantOfId } from '@concord/core/envelope';
import { Topics } from '@concord/core/messages';
import type { JsonObject } from '@concord/core';
import type { FilterSubject, NotifierTopic } from './filter.js';
import { busErrors } from '@concord/bus';

/** What a notification tells: a change applied, a conflict decided, a projection caught up, an outcome. */
export type NotificationKind = 'applied' | 'conflict_resolved' | 'projected' | 'outcome';

const kindByTopic: Readonly<Record<NotifierTopic, NotificationKind>> = {
  [Topics.applied]: 'applied',
  [Topics.conflictResolved]: 'conflict_resolved',
  [Topics.projected]: 'projected',
  [Topics.outcome]: 'outcome',
};

/**
 * One entry of the notification log, as SSE `data:` and as the webhook body. `id` is the log's bigint
 * id (a decimal string), also the SSE event id; `data` is the message payload as published.
 */
export interface Notification {
  readonly id: string;
  readonly kind: NotificationKind;
  readonly topic: NotifierTopic;
  readonly messageId: string;
  readonly eventId?: string;
  readonly eventType?: string;
  readonly aggregateType?: string;
  readonly aggregateId?: string;
  readonly outcome?: string;
  readonly createdAt: string;
  readonly data: JsonObject;
}

/** A notification before it has a log id. */
export type NewNotification = Omit<Notification, 'id' | 'createdAt'>;

const malformed = (message: string): ConcordError =>
  new ConcordError(busErrors.MESSAGE_MALFORMED, message, { retryable: false });

const optionalString = (payload: JsonObject, field: string): string | undefined => {
  const value = payload[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw malformed(`payload field ${field} must be a string`);
  return value;
};

const requiredString = (payload: JsonObject, field: string): string => {
  const value = optionalString(payload, field);
  if (value === undefined || value === '') throw malformed(`payload field ${field} is required`);
  return value;
};

/** A string field that may be absent or empty; both mean "none" (`undefined`). */
const nonEmptyString = (payload: JsonObject, field: string): string | undefined => {
  const value = optionalString(payload, field);
  return value === '' ? undefined : value;
};

export const isNotifierTopic = (topic: string): topic is NotifierTopic => topic in kindByTopic;

/**
 * Maps a consumed message to a notification. Payloads are `AppliedMessage`, `ConflictResolvedMessage`,
 * `ProjectedMessage` and `OutcomeMessage` of @concord/core; anything else is a non-retryable
 * `CONCORD_MESSAGE_MALFORMED` (dead-lettered by the bus).
 *
 * Every message needs an event id. An outcome message may have no aggregate: ingest rejects an event
 * that lacks `aggregateType` or `aggregateId` and publishes its `rejected` outcome with the missing
 * field empty (DESIGN §3: an outcome is never dropped). Such a notification has no aggregate
 * attribute, so it is logged and delivered, and filters on aggregate types or ids do not match it.
 */
export const toNotification = (options: {
  readonly topic: string;
  readonly messageId: string;
  readonly payload: unknown;
}): NewNotification => {
  const { topic, messageId, payload } = options;
  if (!isNotifierTopic(topic)) throw malformed(`topic ${topic} is not one the notifier consumes`);
  if (!isPlainObject(payload)) throw malformed('payload must be a JSON object');
  const data = payload as JsonObject;
  const eventType = optionalString(data, 'eventType');
  const outcome = optionalString(data, 'outcome');
  const aggregateField = topic === Topics.outcome ? nonEmptyString : requiredString;
  const aggregateType = aggregateField(data, 'aggregateType');
  const aggregateId = aggregateField(data, 'aggregateId');
  return {
    kind: kindByTopic[topic],
    topic,
    messageId,
    eventId: requiredString(data, 'eventId'),
    ...(aggregateType === undefined ? {} : { aggregateType }),
    ...(aggregateId === undefined ? {} : { aggregateId }),
    ...(eventType === undefined ? {} : { eventType }),
    ...(outcome === undefined ? {} : { outcome }),
    data,
  };
};

/**
 * The tenant a notification belongs to (DESIGN §5 "Tenants"): its event's, whose scoped id every message
 * carries (an outcome may name no aggregate, never no event); `undefined` for the default tenant.
 */
export const tenantOfNotification = (notification: Pick<NewNotification, 'eventId' | 'messageId'>) =>
  tenantOfId(notification.eventId ?? notification.messageId);

/**
 * What a filter looks at, with the aggregate id as the notification's tenant knows it: filters are
 * written by that tenant's callers, in its plain ids (types, topics and outcomes are never scoped).
 */
export const filterSubjectOf = (notification: NewNotification): FilterSubject => ({
  topic: notification.topic,
  eventType: notification.eventType,
  aggregateType: notification.aggregateType,
  aggregateId: notification.aggregateId === undefined ? undefined : localId(notification.aggregateId),
  outcome: notification.outcome,
});
