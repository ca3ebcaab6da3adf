import { defineErrors } from '@concord/core';

/** The resolver's codes: conflicts, decisions and reopens, its queries, extensions. */
export const resolverErrors = defineErrors({
  CONFLICT_NOT_FOUND: {
    code: 'CONCORD_CONFLICT_NOT_FOUND',
    retryable: false,
    status: 404,
    message: 'No conflict with that id.',
  },
  CONFLICT_ALREADY_DECIDED: {
    code: 'CONCORD_CONFLICT_ALREADY_DECIDED',
    retryable: false,
    status: 409,
    message: 'A decision was posted for a conflict that is no longer pending review.',
  },
  CONFLICT_PENDING_REVIEW: {
    code: 'CONCORD_CONFLICT_PENDING_REVIEW',
    retryable: false,
    status: 409,
    message: 'A reopen of a conflict that is in review already; decide it (`POST …/decision`) instead.',
  },
  CONFLICT_REOPEN_LIMIT: {
    code: 'CONCORD_CONFLICT_REOPEN_LIMIT',
    retryable: false,
    status: 409,
    message: "The conflict was reopened as often as its derived ids allow (core's `MAX_REOPENS`).",
  },
  DECISION_INVALID: {
    code: 'CONCORD_DECISION_INVALID',
    retryable: false,
    status: 400,
    message: 'The decision body is malformed; every problem with its path in details.problems.',
  },
  DECISION_UNKNOWN_FIELD: {
    code: 'CONCORD_DECISION_UNKNOWN_FIELD',
    retryable: false,
    status: 400,
    message: 'A per-field decision names a field the conflict does not overlap.',
  },
  DECISION_INCOMPLETE: {
    code: 'CONCORD_DECISION_INCOMPLETE',
    retryable: false,
    status: 400,
    message: 'A per-field decision leaves an overlapping field undecided.',
  },
  REOPEN_INVALID: {
    code: 'CONCORD_REOPEN_INVALID',
    retryable: false,
    status: 400,
    message: 'The reopen body is malformed; every problem with its path in `details.problems`.',
  },
  QUERY_INVALID: {
    code: 'CONCORD_QUERY_INVALID',
    retryable: false,
    status: 400,
    message: 'A query parameter is malformed (status, limit, since, …).',
  },
  EXTENSION_INVALID: {
    code: 'CONCORD_EXTENSION_INVALID',
    retryable: false,
    status: 400,
    message:
      'A CONCORD_EXTENSIONS module cannot be imported, has the wrong shape, or registers a name twice.',
  },
});
