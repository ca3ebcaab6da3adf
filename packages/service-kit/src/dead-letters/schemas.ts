/**
 * The dead-letter routes' schemas, for the OpenAPI document (`/openapi.json`). The handlers check their
 * input themselves (request.ts), answering with the stable codes of docs/errors.md.
 */
import { DEAD_LETTER_KINDS } from './types.js';

const text = (description: string) => ({ type: 'string', minLength: 1, maxLength: 500, description });

const FILTER_PROPERTIES = {
  topic: text('Only dead letters of this topic (outbox, bus).'),
  group: text('Only those of this consumer group (bus).'),
  subscriptionId: text('Only deliveries of this subscription (webhook).'),
  errorCode: text('Only those whose last error has this code.'),
  before: {
    type: 'string',
    format: 'date-time',
    description: 'Only those dead-lettered at or before this instant (ISO 8601).',
  },
} as const;

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

const error = (description: string) => ({ description, ...ERROR });

const KIND = { type: 'string', enum: [...DEAD_LETTER_KINDS], description: 'The kind of dead letters.' };

const DEAD_LETTER = {
  type: 'object',
  required: ['kind', 'id', 'errorCode', 'error', 'attempts', 'deadLetteredAt'],
  properties: {
    kind: KIND,
    id: { type: 'string', description: 'Unique within its kind; what replay takes.' },
    errorCode: { type: 'string', description: "The last attempt's error code." },
    error: { type: 'string', description: "The last attempt's error message." },
    attempts: { type: 'integer', description: 'Attempts made, the last included.' },
    deadLetteredAt: { type: 'string', format: 'date-time' },
    messageId: { type: 'string', description: 'outbox, bus: the message id consumers dedupe on.' },
    topic: { type: 'string', description: 'outbox, bus: the topic it was for.' },
    key: { type: 'string' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    payloadBytes: { type: 'integer' },
    group: { type: 'string', description: 'bus: the consumer group that gave up on it.' },
    createdAt: { type: 'string', format: 'date-time', description: 'outbox: when the row was written.' },
    notificationId: { type: 'string', description: 'webhook: the notification delivered.' },
    subscriptionId: { type: 'string', description: 'webhook: the subscription it was for.' },
    url: { type: 'string', description: 'webhook: the endpoint, masked.' },
    lastStatus: { type: 'integer', description: "webhook: the endpoint's last HTTP status." },
  },
} as const;

const REFUSED = {
  type: 'array',
  description: 'Dead letters that are there but cannot be replayed, with why.',
  items: {
    type: 'object',
    required: ['id', 'reason', 'message'],
    properties: {
      id: { type: 'string' },
      reason: { type: 'string', description: 'subscription_deleted or notification_pruned.' },
      message: { type: 'string' },
    },
  },
} as const;

const COMMON = { tags: ['dead-letters'] } as const;

export const LIST_SCHEMA = {
  ...COMMON,
  operationId: 'listDeadLetters',
  summary: 'List dead letters',
  description:
    'Dead letters of one kind that this service keeps, oldest first, a page at a time (admin scope).',
  querystring: {
    type: 'object',
    required: ['kind'],
    properties: {
      kind: KIND,
      limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Default 100.' },
      after: { type: 'string', description: 'The `next` of the previous page.' },
      ...FILTER_PROPERTIES,
    },
  },
  response: {
    200: {
      description: 'One page.',
      type: 'object',
      required: ['kind', 'deadLetters', 'next'],
      properties: {
        kind: KIND,
        deadLetters: { type: 'array', items: DEAD_LETTER },
        next: { type: ['string', 'null'], description: 'Cursor of the next page; null on the last.' },
      },
    },
    400: error('A bad parameter (CONCORD_REQUEST_INVALID) or cursor (CONCORD_INVALID_CURSOR).'),
    404: error('This service keeps no dead letters of that kind (CONCORD_DEAD_LETTER_KIND_UNAVAILABLE).'),
  },
} as const;

const PARAMS = {
  type: 'object',
  required: ['kind'],
  properties: { kind: KIND },
} as const;

export const REPLAY_ONE_SCHEMA = {
  ...COMMON,
  operationId: 'replayDeadLetter',
  summary: 'Replay a dead letter',
  description:
    'Puts one dead letter back to work and removes it, atomically: an outbox or bus dead letter goes back ' +
    'into the outbox with its message id (for its original topic), a webhook delivery is scheduled again ' +
    'with its delivery id (admin scope).',
  params: {
    ...PARAMS,
    required: ['kind', 'id'],
    properties: { ...PARAMS.properties, id: { type: 'string' } },
  },
  response: {
    200: {
      description: 'Replayed.',
      type: 'object',
      required: ['kind', 'replayed'],
      properties: { kind: KIND, replayed: { type: 'array', items: { type: 'string' } } },
    },
    400: error('Not a kind of dead letters (CONCORD_REQUEST_INVALID).'),
    404: error(
      'No such dead letter (CONCORD_DEAD_LETTER_NOT_FOUND), or none of that kind here ' +
        '(CONCORD_DEAD_LETTER_KIND_UNAVAILABLE).',
    ),
    409: error('It cannot be replayed, e.g. its subscription is gone (CONCORD_DEAD_LETTER_NOT_REPLAYABLE).'),
  },
} as const;

export const REPLAY_MANY_SCHEMA = {
  ...COMMON,
  operationId: 'replayDeadLetters',
  summary: 'Replay dead letters in bulk',
  description:
    'Replays the dead letters named by `ids`, or else up to `limit` of those matching the filter (all of ' +
    'them without one), oldest first, in one transaction. Call again while `more` (admin scope).',
  params: PARAMS,
  body: {
    type: 'object',
    properties: {
      ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string' } },
      limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Default 100.' },
      ...FILTER_PROPERTIES,
    },
  },
  response: {
    200: {
      description: 'What was replayed.',
      type: 'object',
      required: ['kind', 'replayed', 'missing', 'refused', 'more'],
      properties: {
        kind: KIND,
        replayed: { type: 'array', items: { type: 'string' } },
        missing: {
          type: 'array',
          items: { type: 'string' },
          description: 'Named ids with no dead letter (never were, or replayed already).',
        },
        refused: REFUSED,
        more: { type: 'boolean', description: 'As many as `limit` went: there may be more.' },
      },
    },
    400: error('A bad body (CONCORD_REQUEST_INVALID).'),
    404: error('This service keeps no dead letters of that kind (CONCORD_DEAD_LETTER_KIND_UNAVAILABLE).'),
  },
} as const;
