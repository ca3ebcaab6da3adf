import { notifierErrors } from './errors.js';
import type { Notification } from './notification.js';
import { ConcordError } from '@concord/core';

/** How a notification goes out: Concord's own JSON (the default), or a CloudEvent (structured mode). */
export type NotificationFormat = 'json' | 'cloudevents';

export const NOTIFICATION_FORMATS: readonly NotificationFormat[] = ['json', 'cloudevents'];

/** The media type of a structured-mode CloudEvent (CloudEvents HTTP binding §3.2). */
export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** CloudEvents `source` of every notification: the notifier, as a URI-reference. */
export const NOTIFIER_SOURCE = '/concord/notifier';

/** A `format` parameter (`?format=` of the stream): absent or empty is `json`. */
export const parseFormat = (value: unknown): NotificationFormat => {
  const raw = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (raw === undefined || raw === '') return 'json';
  if (raw === 'json' || raw === 'cloudevents') return raw;
  throw new ConcordError(
    notifierErrors.NOTIFICATION_FORMAT_INVALID,
    'format must be "json" or "cloudevents"',
    {
      details: { format: typeof raw === 'string' ? raw : JSON.stringify(raw) },
    },
  );
};

/**
 * A notification as a structured-mode CloudEvent: `id` the message's id (unique per message, stable
 * across redeliveries and webhook retries), `source` the notifier, `type` `dev.concord.<kind>`,
 * `subject` the aggregate id (the event id when an outcome names no aggregate), `time` when it was
 * logged, `data` the message payload as published. Extensions: `sequence` (the log id, the SSE id),
 * `topic`, `eventid`, and where known `aggregatetype`, `eventtype`, `outcome`.
 */
export const notificationCloudEvent = (notification: Notification): Record<string, unknown> => ({
  specversion: '1.0',
  id: notification.messageId,
  source: NOTIFIER_SOURCE,
  type: `dev.concord.${notification.kind}`,
  subject: notification.aggregateId ?? notification.eventId ?? notification.messageId,
  time: notification.createdAt,
  datacontenttype: 'application/json',
  sequence: notification.id,
  topic: notification.topic,
  ...(notification.eventId === undefined ? {} : { eventid: notification.eventId }),
  ...(notification.aggregateType === undefined ? {} : { aggregatetype: notification.aggregateType }),
  ...(notification.eventType === undefined ? {} : { eventtype: notification.eventType }),
  ...(notification.outcome === undefined ? {} : { outcome: notification.outcome }),
  data: notification.data,
});

/** The JSON text of a notification in `format`. */
export const formatNotification = (notification: Notification, format: NotificationFormat): string =>
  JSON.stringify(format === 'cloudevents' ? notificationCloudEvent(notification) : notification);
