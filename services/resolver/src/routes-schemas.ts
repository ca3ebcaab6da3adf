import { errorResponse, jsonResponse, namedSchema } from '@concord/service-kit/openapi';
import { CONFLICT_STATUSES } from './conflict-records.js';

/** The schemas of the resolver's routes (DESIGN §5), as `/openapi.json` publishes them. */

const JSON_OBJECT = { type: 'object' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_STRING = { type: ['string', 'null'] } as const;
const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The conflict id.' } },
} as const;

const SUMMARY_PROPERTIES = {
  id: { type: 'string' },
  eventId: { type: 'string', description: 'The event that conflicted.' },
  aggregateType: { type: 'string' },
  aggregateId: { type: 'string' },
  status: { enum: [...CONFLICT_STATUSES] },
  rule: { ...NULLABLE_STRING, description: 'The policy rule that matched.' },
  group: NULLABLE_STRING,
  strategy: { type: 'string' },
  version: { type: ['integer', 'null'], description: 'The aggregate version the decision wrote.' },
  fields: { type: 'array', items: { type: 'string' }, description: 'The fields both sides changed.' },
  review: {
    description: 'While in review: when it is due, who it escalates to, whether values stand meanwhile.',
    anyOf: [
      {
        type: 'object',
        required: ['dueAt', 'escalateTo', 'provisional'],
        properties: { dueAt: {}, escalateTo: {}, provisional: { type: 'boolean' } },
      },
      { type: 'null' },
    ],
  },
  createdAt: TIME,
  updatedAt: TIME,
} as const;

const SUMMARY_REQUIRED = ['id', 'eventId', 'aggregateType', 'aggregateId', 'status', 'fields', 'createdAt'];

const CONFLICT_SUMMARY = namedSchema('ConflictSummary', {
  type: 'object',
  required: SUMMARY_REQUIRED,
  properties: SUMMARY_PROPERTIES,
});

const LEDGER_ENTRY = {
  type: 'object',
  required: ['id', 'outcome', 'decidedBy', 'decidedAt'],
  properties: {
    id: {},
    outcome: { type: 'string' },
    final: { type: 'boolean' },
    provisional: { type: 'boolean' },
    decidedBy: { enum: ['policy', 'human', 'timeout', 'reopen'] },
    userId: NULLABLE_STRING,
    strategy: NULLABLE_STRING,
    version: { type: ['integer', 'null'] },
    decidedAt: TIME,
    round: { type: 'integer' },
    choices: { description: 'What was chosen per field, and from where.' },
    reasons: { description: 'Why, per field.' },
    reopen: { ...JSON_OBJECT, description: 'On a reopen: who, why, and the fields before and after.' },
  },
} as const;

const CONFLICT = namedSchema('Conflict', {
  type: 'object',
  description:
    'A conflict with its explanation: which rule matched and why, what was chosen per field, history.',
  required: [...SUMMARY_REQUIRED, 'conflict', 'explanation', 'decision', 'decisions'],
  properties: {
    ...SUMMARY_PROPERTIES,
    conflict: { ...JSON_OBJECT, description: 'Both sides: the aggregate’s state and the conflicting event.' },
    explanation: {
      type: 'object',
      description: 'How the policy decided first.',
      properties: {
        policy: { description: 'The policy’s name, version and hash.' },
        via: { type: 'string' },
        rule: NULLABLE_STRING,
        group: NULLABLE_STRING,
        strategy: { type: 'string' },
        conditions: { description: 'Each condition of the matched rule and whether it held.' },
        skipped: { description: 'Rules tried before it and why they did not match.' },
        choices: {},
        reasons: {},
        review: { description: 'The review settings, for a manual review.' },
      },
    },
    decision: { ...JSON_OBJECT, description: 'The decision in force.' },
    decisions: { type: 'array', description: 'The ledger, oldest first.', items: LEDGER_ENTRY },
  },
});

const CONFLICT_RESPONSE = jsonResponse('The conflict, as decided now.', CONFLICT);
const NOT_FOUND = errorResponse('No such conflict (CONCORD_CONFLICT_NOT_FOUND).');

export const POLICY_SCHEMA = {
  operationId: 'getPolicy',
  summary: 'The policy in force',
  tags: ['policy'],
  response: {
    200: jsonResponse('The policy loaded now, and how its reloads went.', {
      type: 'object',
      required: ['policy'],
      properties: {
        policy: {
          type: 'object',
          required: ['name', 'version', 'hash', 'path', 'loadedAt', 'reloads'],
          properties: {
            name: { type: 'string' },
            version: { type: 'string' },
            hash: { type: 'string' },
            path: { type: 'string' },
            loadedAt: TIME,
            reloads: {
              type: 'object',
              required: ['ok', 'failed'],
              properties: { ok: { type: 'integer' }, failed: { type: 'integer' } },
            },
            lastError: {
              type: 'object',
              description: 'Problems of the last failed reload, while the file holds that text.',
              required: ['at', 'problems'],
              properties: { at: TIME, problems: { type: 'array' } },
            },
          },
        },
      },
    }),
  },
} as const;

export const LIST_SCHEMA = {
  operationId: 'listConflicts',
  summary: 'Conflicts, newest first',
  tags: ['conflicts'],
  querystring: {
    type: 'object',
    properties: {
      status: { enum: [...CONFLICT_STATUSES] },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      after: { type: 'string', description: 'The `next` of the previous page.' },
    },
  },
  response: {
    200: jsonResponse('A page of conflicts.', {
      type: 'object',
      required: ['conflicts', 'next'],
      properties: {
        conflicts: { type: 'array', items: CONFLICT_SUMMARY },
        next: { ...NULLABLE_STRING, description: 'Pass as `after`; null on the last page.' },
      },
    }),
    400: errorResponse('A bad status, limit or cursor (CONCORD_QUERY_INVALID, CONCORD_INVALID_CURSOR).'),
  },
} as const;

export const GET_SCHEMA = {
  operationId: 'getConflict',
  summary: 'A conflict, explained',
  tags: ['conflicts'],
  params: ID_PARAMS,
  response: { 200: CONFLICT_RESPONSE, 404: NOT_FOUND },
} as const;

const PICK = {
  anyOf: [
    { enum: ['local', 'remote'] },
    { type: 'object', required: ['value'], properties: { value: { description: 'A value of one’s own.' } } },
  ],
};

export const DECISION_SCHEMA = {
  operationId: 'decideConflict',
  summary: 'Decide a conflict in review',
  description:
    'A person’s decision: one side for every field (`choose`), or per field (`fields`), or both (`choose` ' +
    'covers the fields `fields` leaves out). With authentication on, `userId` is the token’s subject.',
  tags: ['conflicts'],
  params: ID_PARAMS,
  body: {
    type: 'object',
    required: ['userId'],
    properties: {
      choose: {
        enum: ['local', 'remote'],
        description: '`local`: the aggregate’s values; `remote`: the event’s.',
      },
      fields: { type: 'object', additionalProperties: PICK },
      userId: { type: 'string', minLength: 1, maxLength: 200 },
      note: { type: 'string' },
    },
    additionalProperties: false,
  },
  response: {
    200: CONFLICT_RESPONSE,
    400: errorResponse('An invalid decision (CONCORD_DECISION_INVALID, _UNKNOWN_FIELD, _INCOMPLETE).'),
    404: NOT_FOUND,
    409: errorResponse('Decided already (CONCORD_CONFLICT_ALREADY_DECIDED).'),
    413: errorResponse('The result would not fit a message (CONCORD_AGGREGATE_TOO_LARGE).'),
  },
} as const;

export const REOPEN_SCHEMA = {
  operationId: 'reopenConflict',
  summary: 'Reopen a decided conflict',
  description:
    'Back into review (no `policy`), or decided again at once by the policy in force (`"current"`) or by ' +
    'a JSON policy document given inline. With authentication on, `userId` is the token’s subject.',
  tags: ['conflicts'],
  params: ID_PARAMS,
  body: {
    type: 'object',
    required: ['userId', 'reason'],
    properties: {
      userId: { type: 'string', minLength: 1, maxLength: 200 },
      reason: { type: 'string', minLength: 1, maxLength: 2000 },
      policy: {
        anyOf: [{ const: 'current' }, { type: 'object', description: 'A policy document (DESIGN §6).' }],
      },
    },
    additionalProperties: false,
  },
  response: {
    200: CONFLICT_RESPONSE,
    400: errorResponse('An invalid reopen, every problem with its path (CONCORD_REOPEN_INVALID).'),
    404: NOT_FOUND,
    409: errorResponse(
      'In review already, or reopened too often (CONCORD_CONFLICT_PENDING_REVIEW, _REOPEN_LIMIT).',
    ),
  },
} as const;

const CANDIDATE = { type: 'string', description: 'A candidate policy document (DESIGN §6), YAML or JSON.' };

export const DRY_RUN_SCHEMA = {
  operationId: 'dryRunPolicy',
  summary: 'What a candidate policy would have decided',
  description: 'Re-decides the recorded conflicts with the candidate, in memory; nothing is written.',
  tags: ['policy'],
  querystring: {
    type: 'object',
    properties: {
      since: { type: 'string', description: 'Conflicts recorded since: an ISO-8601 instant or epoch ms.' },
      limit: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 100_000 },
      changes: {
        type: 'integer',
        minimum: 0,
        maximum: 1000,
        default: 100,
        description: 'Changes listed at most.',
      },
    },
  },
  body: {
    content: {
      'application/json': {
        schema: { type: 'object', description: 'A candidate policy document (DESIGN §6).' },
      },
      'application/yaml': { schema: CANDIDATE },
      'text/yaml': { schema: CANDIDATE },
      'text/plain': { schema: CANDIDATE },
    },
  },
  response: {
    200: jsonResponse('The candidate’s decisions beside those made.', {
      type: 'object',
      required: ['policy', 'conflicts', 'changed', 'byRule', 'changes', 'truncated', 'warnings'],
      properties: {
        policy: {
          type: 'object',
          required: ['name', 'version', 'hash'],
          properties: { name: { type: 'string' }, version: { type: 'string' }, hash: { type: 'string' } },
        },
        conflicts: { type: 'integer', description: 'Conflicts re-decided.' },
        changed: { type: 'integer', description: 'Of which the candidate decides differently.' },
        byRule: { type: 'object', additionalProperties: { type: 'integer' } },
        changes: { type: 'array', items: JSON_OBJECT, description: 'Each difference, at most `changes`.' },
        truncated: { type: 'boolean' },
        warnings: {
          type: 'array',
          description: 'What the candidate may not mean as written, each with its path.',
          items: JSON_OBJECT,
        },
      },
    }),
    400: errorResponse('An invalid candidate, every problem with its path (CONCORD_POLICY_INVALID).'),
  },
} as const;
