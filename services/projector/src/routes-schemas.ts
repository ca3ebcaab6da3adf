import { errorResponse, jsonResponse } from '@concord/service-kit/openapi';

/** The schemas of the projector's routes (DESIGN §5), as `/openapi.json` publishes them. */

const JSON_OBJECT = { type: 'object' } as const;
const AGGREGATE_PARAMS = {
  type: 'object',
  required: ['type', 'id'],
  properties: {
    type: { type: 'string', description: 'The aggregate type, e.g. task.' },
    id: { type: 'string', description: 'The aggregate id.' },
  },
} as const;
const NOT_FOUND = errorResponse(
  'Nothing was ever applied to, or no event names, the aggregate (CONCORD_AGGREGATE_NOT_FOUND).',
);

export const AGGREGATE_SCHEMA = {
  operationId: 'getAggregate',
  summary: 'An aggregate’s projected state',
  tags: ['aggregates'],
  params: AGGREGATE_PARAMS,
  response: {
    200: jsonResponse('The aggregate: its fields, version and the version of each field.', {
      type: 'object',
      required: ['type', 'id', 'version', 'fields', 'fieldVersions', 'updatedAt'],
      properties: {
        type: { type: 'string' },
        id: { type: 'string' },
        version: { type: 'integer' },
        fields: { ...JSON_OBJECT, description: 'The projected fields.' },
        fieldVersions: {
          type: 'object',
          description: 'Per field, the write whose value it holds (event, version, clocks, origin, source).',
          additionalProperties: JSON_OBJECT,
        },
        updatedAt: { type: 'string' },
      },
    }),
    404: NOT_FOUND,
  },
} as const;

export const HISTORY_SCHEMA = {
  operationId: 'getAggregateHistory',
  summary: 'An aggregate’s history',
  description:
    'The aggregate’s events of every outcome, the resolver’s changes among them, in commit (= version) ' +
    'order, each with every outcome it reached and, for a conflict, the decisions made on it.',
  tags: ['aggregates'],
  params: AGGREGATE_PARAMS,
  querystring: {
    type: 'object',
    properties: {
      after: { type: 'string', description: 'The `next` of the previous page (or an event’s `cursor`).' },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    },
  },
  response: {
    200: jsonResponse('A page of the history.', {
      type: 'object',
      required: ['type', 'id', 'events', 'next'],
      properties: {
        type: { type: 'string' },
        id: { type: 'string' },
        events: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'id',
              'type',
              'outcome',
              'version',
              'conflictId',
              'recordedAt',
              'event',
              'outcomes',
              'decisions',
              'cursor',
            ],
            properties: {
              id: { type: 'string' },
              type: { type: 'string' },
              outcome: { type: 'string' },
              version: { type: ['integer', 'null'] },
              conflictId: { type: ['string', 'null'] },
              recordedAt: { type: 'string' },
              event: { ...JSON_OBJECT, description: 'The event envelope (DESIGN §2).' },
              outcomes: {
                type: 'array',
                description: 'Every outcome it reached, oldest first, with details.',
                items: {
                  type: 'object',
                  required: ['outcome', 'at', 'details'],
                  properties: { outcome: { type: 'string' }, at: { type: 'string' }, details: JSON_OBJECT },
                },
              },
              decisions: { type: 'array', items: JSON_OBJECT },
              cursor: { type: 'string', description: 'Continues after this event.' },
            },
          },
        },
        next: { type: ['string', 'null'], description: 'The next page’s cursor; null on the last.' },
      },
    }),
    400: errorResponse('A bad limit or cursor (CONCORD_REQUEST_INVALID, CONCORD_INVALID_CURSOR).'),
    404: NOT_FOUND,
  },
} as const;

const REBUILD_SUMMARY = {
  type: 'object',
  required: [
    'id',
    'aggregateType',
    'status',
    'eventsRead',
    'eventsApplied',
    'caughtUp',
    'aggregates',
    'backends',
  ],
  properties: {
    id: { type: 'string' },
    aggregateType: { type: ['string', 'null'] },
    status: { const: 'completed' },
    eventsRead: { type: 'integer', description: 'Feed rows read (every type).' },
    eventsApplied: { type: 'integer', description: 'Events of the scope applied to a rebuilt state.' },
    caughtUp: { type: 'integer', description: 'Of those, applied while swapping.' },
    aggregates: { type: 'integer' },
    backends: { type: 'array', items: JSON_OBJECT },
  },
  additionalProperties: true,
} as const;

export const REBUILD_SCHEMA = {
  operationId: 'rebuildProjections',
  summary: 'Rebuild the projections',
  description: 'Replays the event store into fresh projections and swaps them in; answers when done.',
  tags: ['projections'],
  body: {
    type: 'object',
    description: 'No body, or an aggregate type to rebuild alone.',
    properties: { aggregateType: { type: 'string', minLength: 1, maxLength: 200 } },
  },
  response: {
    200: jsonResponse('The rebuild, completed.', REBUILD_SUMMARY),
    400: errorResponse('An invalid body (CONCORD_REQUEST_INVALID).'),
    409: errorResponse('A rebuild is running already (CONCORD_PROJECTION_REBUILD_RUNNING).'),
    422: errorResponse('No backend projects the aggregate type (CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY).'),
  },
} as const;

export const REBUILD_STATUS_SCHEMA = {
  operationId: 'getRebuildStatus',
  summary: 'The running rebuild, else the latest',
  tags: ['projections'],
  response: {
    200: jsonResponse('The rebuild, or null when there never was one.', {
      type: 'object',
      required: ['rebuild'],
      properties: {
        rebuild: {
          anyOf: [
            {
              type: 'object',
              required: ['id', 'aggregateType', 'status', 'events', 'aggregates', 'startedAt'],
              properties: {
                id: { type: 'string' },
                aggregateType: { type: ['string', 'null'] },
                status: { enum: ['running', 'completed', 'failed', 'abandoned'] },
                events: { type: 'number' },
                aggregates: { type: 'number' },
                summary: REBUILD_SUMMARY,
                error: { type: 'string' },
                startedAt: { type: 'string' },
                finishedAt: { type: 'string' },
              },
            },
            { type: 'null' },
          ],
        },
      },
    }),
  },
} as const;

export const CHECKPOINTS_SCHEMA = {
  operationId: 'listCheckpoints',
  summary: 'How far each projection has got',
  tags: ['projections'],
  response: {
    200: jsonResponse('Per projection and backend, the last message projected.', {
      type: 'object',
      required: ['checkpoints'],
      properties: {
        checkpoints: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'projection',
              'backend',
              'lastMessageId',
              'lastEventId',
              'lastAggregateId',
              'lastVersion',
              'projected',
              'updatedAt',
            ],
            properties: {
              projection: { type: 'string', description: 'The aggregate type.' },
              backend: { type: 'string' },
              lastMessageId: { type: 'string' },
              lastEventId: { type: 'string' },
              lastAggregateId: { type: 'string' },
              lastVersion: { type: 'number' },
              lastCommittedAt: { type: 'string', format: 'date-time' },
              projected: { type: 'number' },
              updatedAt: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    }),
  },
} as const;
