import { OUTCOMES } from '@concord/core/messages';
import { errorResponse, jsonResponse, namedSchema } from '@concord/service-kit/openapi';

/** The schemas of ingest's routes (DESIGN §5), as `/openapi.json` publishes them. */

const OUTCOME = namedSchema('Outcome', {
  enum: [...OUTCOMES],
  description: 'What happened to an event (DESIGN §3).',
});

const JSON_OBJECT = { type: 'object', description: 'A JSON object.' } as const;

/** The envelope (DESIGN §2); docs/schemas/event.schema.json holds every rule of it. */
export const EVENT_SCHEMA = namedSchema('Event', {
  type: 'object',
  description:
    'One versioned change event (DESIGN §2); docs/schemas/event.schema.json states every rule ingest checks.',
  required: ['id', 'type', 'aggregateType', 'aggregateId', 'data'],
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description: 'Client-chosen, unique: the idempotency key.',
    },
    type: { type: 'string', minLength: 1, maxLength: 200 },
    aggregateType: { type: 'string', minLength: 1, maxLength: 200 },
    aggregateId: { type: 'string', minLength: 1, maxLength: 200 },
    baseVersion: { type: 'integer', minimum: 0, description: 'The aggregate version the writer last saw.' },
    clock: {
      type: 'object',
      description: 'Version vector of the writer: node id to counter.',
      additionalProperties: { type: 'integer', minimum: 0 },
    },
    hlc: { type: 'string', description: 'Hybrid logical clock stamp of the writer.' },
    serverHlc: { type: 'string', description: 'The HLC ingest stamped on accepting the event (never sent).' },
    origin: { type: 'string', description: 'The writer or node id.' },
    data: { ...JSON_OBJECT, description: 'The fields this event sets (patch semantics).' },
    metadata: { ...JSON_OBJECT, description: 'e.g. tenant, userId, source.' },
  },
});

/** One event's result (DESIGN §5). */
const EVENT_RESULT = namedSchema('EventResult', {
  type: 'object',
  required: ['id', 'outcome'],
  properties: {
    id: { type: ['string', 'null'], description: 'The event id; null when the sent id was unusable.' },
    outcome: OUTCOME,
    version: {
      type: 'integer',
      description: 'Aggregate version the event produced or was classified against.',
    },
    conflictId: { type: 'string' },
    originalOutcome: { ...OUTCOME, description: 'For a duplicate: the outcome the event with this id has.' },
    error: {
      type: 'object',
      description: 'Why the event was rejected.',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
});

const OUTCOME_ENTRY = {
  type: 'object',
  required: ['outcome', 'at', 'details'],
  properties: { outcome: OUTCOME, at: { type: 'string', format: 'date-time' }, details: JSON_OBJECT },
};

export const SUBMIT_SCHEMA = {
  operationId: 'submitEvents',
  summary: 'Submit events',
  description:
    'A Concord batch `{ "events": [ … ] }` or a bare array of events, or CloudEvents: structured ' +
    '(`application/cloudevents+json`, or one event with `specversion` as `application/json`), batched ' +
    '(`application/cloudevents-batch+json`) or binary (`ce-*` headers, the body is `data`). Each event ' +
    'gets its own result; an invalid event is a `rejected` result, not a failed request.',
  tags: ['events'],
  body: {
    content: {
      'application/json': {
        schema: {
          oneOf: [
            {
              type: 'object',
              required: ['events'],
              properties: { events: { type: 'array', items: EVENT_SCHEMA, maxItems: 1000 } },
            },
            { type: 'array', items: EVENT_SCHEMA, maxItems: 1000 },
            { type: 'object', required: ['specversion'], description: 'One structured-mode CloudEvent.' },
          ],
        },
      },
      'application/cloudevents+json': {
        schema: { type: 'object', required: ['specversion'], description: 'One structured-mode CloudEvent.' },
      },
      'application/cloudevents-batch+json': {
        schema: { type: 'array', items: { type: 'object', required: ['specversion'] } },
      },
    },
  },
  response: {
    200: jsonResponse('One result per event, in the order sent.', {
      type: 'object',
      required: ['results'],
      properties: { results: { type: 'array', items: EVENT_RESULT } },
    }),
    400: errorResponse('Not a batch (CONCORD_BATCH_INVALID) or a body that does not decompress.'),
    413: errorResponse('Over the body (CONCORD_BODY_TOO_LARGE) or batch (CONCORD_BATCH_TOO_LARGE) limit.'),
    415: errorResponse('A Content-Encoding this server does not decode (CONCORD_UNSUPPORTED_ENCODING).'),
    429: errorResponse(
      'Admission control refuses work (CONCORD_OVERLOADED); Retry-After says when to retry.',
    ),
  },
} as const;

export const GET_EVENT_SCHEMA = {
  operationId: 'getEvent',
  summary: 'An event and its outcome',
  description: 'The event as stored, its current outcome, earlier outcomes and, once decided, the decision.',
  tags: ['events'],
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', description: 'The event id.' } },
  },
  response: {
    200: jsonResponse('The event.', {
      type: 'object',
      required: ['event', 'outcome', 'details', 'history', 'recordedAt'],
      properties: {
        event: EVENT_SCHEMA,
        outcome: OUTCOME,
        version: { type: 'integer' },
        conflictId: { type: 'string' },
        details: {
          ...JSON_OBJECT,
          description: 'Conflict details, supersession or rejection reason, decisions.',
        },
        history: { type: 'array', description: 'Earlier outcomes, oldest first.', items: OUTCOME_ENTRY },
        recordedAt: { type: 'string', format: 'date-time' },
        decision: { ...JSON_OBJECT, description: 'The decision on the event’s conflict, once made.' },
      },
    }),
    404: errorResponse('No such event (CONCORD_EVENT_NOT_FOUND).'),
  },
} as const;

export const FEED_SCHEMA = {
  operationId: 'getEventFeed',
  summary: 'The pull feed',
  description: 'Applied events in commit order, from a cursor (pull sync).',
  tags: ['events'],
  querystring: {
    type: 'object',
    properties: {
      after: { type: 'string', description: 'The `next` of the previous page; none: from the start.' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    },
  },
  response: {
    200: jsonResponse('A page of the feed.', {
      type: 'object',
      required: ['events', 'next'],
      properties: {
        events: {
          type: 'array',
          items: {
            type: 'object',
            required: ['event', 'outcome', 'version', 'cursor'],
            properties: {
              event: EVENT_SCHEMA,
              outcome: OUTCOME,
              version: { type: 'integer' },
              provenance: {
                ...JSON_OBJECT,
                description: 'On a resolver’s change: per field, the write whose value it is.',
              },
              cursor: { type: 'string', description: 'The cursor just after this event.' },
            },
          },
        },
        next: { type: 'string', description: 'Pass as `after`; equals `after` when nothing new committed.' },
      },
    }),
    400: errorResponse('A bad limit (CONCORD_INVALID_LIMIT) or cursor (CONCORD_INVALID_CURSOR).'),
  },
} as const;
