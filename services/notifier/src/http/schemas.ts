import { OUTCOMES } from '@concord/core/messages';
import { errorResponse, jsonResponse, namedSchema, NO_CONTENT } from '@concord/service-kit/openapi';
import { NOTIFICATION_FORMATS } from '../cloudevent.js';
import { NOTIFIER_TOPICS } from '../filter.js';

/** The schemas of the notifier's routes (DESIGN §5), as `/openapi.json` publishes them. */

const list = (items: object) => ({ type: 'array', minItems: 1, maxItems: 100, items });

const FILTER = namedSchema('NotificationFilter', {
  type: 'object',
  description:
    'What to hear about: entries of one list are OR-ed, lists AND-ed; an absent list matches everything.',
  properties: {
    eventTypes: list({ type: 'string', minLength: 1, maxLength: 500 }),
    aggregateTypes: list({ type: 'string', minLength: 1, maxLength: 500 }),
    aggregateIds: {
      ...list({ type: 'string', minLength: 1 }),
      description: 'Exact ids, globs (`task-*`, `note-?`) or `re:<regex>` (RE2 syntax).',
    },
    outcomes: list({ enum: [...OUTCOMES] }),
    topics: list({ enum: [...NOTIFIER_TOPICS] }),
  },
  additionalProperties: false,
});

const FORMAT = {
  enum: [...NOTIFICATION_FORMATS],
  description: '`json` (the default) or `cloudevents` (structured-mode CloudEvents).',
};

const SUBSCRIPTION = namedSchema('Subscription', {
  type: 'object',
  description: 'A webhook subscription; the URL’s query values, fragment and credentials show as ***.',
  required: ['id', 'url', 'filter', 'format', 'createdAt'],
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    filter: FILTER,
    format: FORMAT,
    createdAt: { type: 'string', format: 'date-time' },
  },
});

const SECRET = {
  type: 'string',
  minLength: 8,
  maxLength: 1024,
  description:
    'The signing secret: `whsec_` and base64 of at least 8 bytes (Standard Webhooks), or any text.',
};

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The subscription id.' } },
} as const;
const NOT_FOUND = errorResponse('No such subscription (CONCORD_SUBSCRIPTION_NOT_FOUND).');
const TAGS = ['subscriptions'];

export const CREATE_SCHEMA = {
  operationId: 'createSubscription',
  summary: 'Subscribe a webhook',
  tags: TAGS,
  body: {
    type: 'object',
    required: ['url', 'secret'],
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 2048, description: 'An https (or http) URL.' },
      filter: FILTER,
      secret: SECRET,
      format: FORMAT,
    },
    additionalProperties: false,
  },
  response: {
    201: jsonResponse('Subscribed; Location names it. The secret is never returned.', SUBSCRIPTION),
    400: errorResponse(
      'An invalid subscription, filter or URL (CONCORD_SUBSCRIPTION_INVALID, CONCORD_FILTER_INVALID, CONCORD_WEBHOOK_URL_*).',
    ),
  },
} as const;

export const LIST_SCHEMA = {
  operationId: 'listSubscriptions',
  summary: 'Every subscription',
  tags: TAGS,
  response: {
    200: jsonResponse('The subscriptions.', {
      type: 'object',
      required: ['subscriptions'],
      properties: { subscriptions: { type: 'array', items: SUBSCRIPTION } },
    }),
  },
} as const;

export const GET_SCHEMA = {
  operationId: 'getSubscription',
  summary: 'A subscription',
  tags: TAGS,
  params: ID_PARAMS,
  response: { 200: jsonResponse('The subscription.', SUBSCRIPTION), 404: NOT_FOUND },
} as const;

export const DEAD_LETTERS_SCHEMA = {
  operationId: 'listSubscriptionDeadLetters',
  summary: 'Deliveries that gave up',
  tags: TAGS,
  params: ID_PARAMS,
  response: {
    200: jsonResponse('The subscription’s dead-lettered deliveries.', {
      type: 'object',
      required: ['deadLetters'],
      properties: {
        deadLetters: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'deliveryId',
              'notificationId',
              'subscriptionId',
              'url',
              'attempts',
              'errorCode',
              'lastError',
              'deadLetteredAt',
            ],
            properties: {
              deliveryId: { type: 'string' },
              notificationId: { type: 'string' },
              subscriptionId: { type: 'string' },
              url: { type: 'string', description: 'Masked as in the subscription.' },
              attempts: { type: 'integer' },
              errorCode: { type: 'string' },
              lastError: { type: 'string' },
              lastStatus: {
                type: 'integer',
                description: 'The receiver’s last HTTP status, if it answered.',
              },
              deadLetteredAt: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    }),
    404: NOT_FOUND,
  },
} as const;

export const ROTATE_SECRET_SCHEMA = {
  operationId: 'rotateSubscriptionSecret',
  summary: 'Rotate a subscription’s signing secret',
  description:
    'The new secret signs from now on; the one it replaces keeps signing beside it for ' +
    '`previousSecretTtlSeconds`, so receivers switch without refusing a delivery. While an earlier ' +
    "rotation's grace period runs, only a rotation with `previousSecretTtlSeconds` 0 is taken.",
  tags: TAGS,
  params: ID_PARAMS,
  body: {
    type: 'object',
    required: ['secret'],
    properties: {
      secret: SECRET,
      previousSecretTtlSeconds: { type: 'integer', minimum: 0, maximum: 604_800, default: 86_400 },
    },
    additionalProperties: false,
  },
  response: {
    200: jsonResponse('Rotated.', {
      type: 'object',
      required: ['id', 'previousSecretExpiresAt'],
      properties: {
        id: { type: 'string' },
        previousSecretExpiresAt: {
          type: ['string', 'null'],
          format: 'date-time',
          description: 'When the replaced secret stops signing; null: at once.',
        },
      },
    }),
    400: errorResponse('An invalid rotation (CONCORD_SUBSCRIPTION_INVALID).'),
    404: NOT_FOUND,
    409: errorResponse(
      "An earlier rotation's grace period still runs and this one has its own " +
        '(CONCORD_SUBSCRIPTION_ROTATION_PENDING).',
    ),
  },
} as const;

export const DELETE_SCHEMA = {
  operationId: 'deleteSubscription',
  summary: 'Unsubscribe',
  tags: TAGS,
  params: ID_PARAMS,
  response: { 204: { ...NO_CONTENT, description: 'Deleted.' }, 404: NOT_FOUND },
} as const;

const commaList = (description: string) => ({
  type: 'string',
  description: `${description}; comma-separated or repeated.`,
});

export const STREAM_SCHEMA = {
  operationId: 'streamNotifications',
  summary: 'Notifications as Server-Sent Events',
  description:
    'Each notification matching the filter as an SSE event (`id:` its position, `event:` its kind, `data:` ' +
    'the notification, or its CloudEvent with `format=cloudevents`); heartbeat comments keep proxies from ' +
    'timing out. `Last-Event-ID` (or `lastEventId`) resumes after that id, `0` replays the whole log; ' +
    'without one the stream starts at the present. A position pruned past sends `event: resync` first.',
  tags: ['stream'],
  querystring: {
    type: 'object',
    properties: {
      eventTypes: commaList('Event types'),
      aggregateTypes: commaList('Aggregate types'),
      aggregateIds: commaList('Aggregate ids, globs or re:<regex>'),
      outcomes: commaList('Outcomes'),
      topics: commaList('Topics'),
      lastEventId: { type: 'string', pattern: '^\\d{1,19}$', description: 'As the Last-Event-ID header.' },
      format: FORMAT,
    },
  },
  headers: {
    type: 'object',
    properties: {
      'last-event-id': { type: 'string', description: 'The id of the last event received: resume after it.' },
    },
  },
  response: {
    200: {
      description: 'The stream, until the client or the server ends it.',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    400: errorResponse(
      'A bad filter, cursor or format (CONCORD_FILTER_INVALID, CONCORD_STREAM_CURSOR_INVALID, CONCORD_NOTIFICATION_FORMAT_INVALID).',
    ),
    429: errorResponse('Too many streams from this client (CONCORD_STREAM_CLIENT_LIMIT).'),
    503: errorResponse('Too many streams, or shutting down (CONCORD_STREAM_LIMIT, CONCORD_NOT_READY).'),
  },
} as const;
