import { defineErrors } from '@concord/core';

/** Ingest's codes: admission, the group commit, its routes. */
export const ingestErrors = defineErrors({
  OVERLOADED: {
    code: 'CONCORD_OVERLOADED',
    retryable: true,
    status: 429,
    message: '`POST /v1/events` and the submit consumer while the pipeline behind ingest is over its bound.',
  },
  INGEST_CLOSED: {
    code: 'CONCORD_INGEST_CLOSED',
    retryable: true,
    status: 503,
    message: 'What a request or submit message gets once ingest is shutting down (retryable).',
  },
  COMMIT_FAILED: {
    code: 'CONCORD_COMMIT_FAILED',
    retryable: true,
    status: 503,
    message:
      "Ingest's transaction failed for a reason that may pass on retry (a lost connection); retryable.",
  },
  BATCH_UNSTORABLE: {
    code: 'CONCORD_BATCH_UNSTORABLE',
    retryable: false,
    status: 400,
    message: 'The batch as a whole holds text Postgres cannot store.',
  },
  INVALID_LIMIT: {
    code: 'CONCORD_INVALID_LIMIT',
    retryable: false,
    status: 400,
    message: 'A limit query parameter is not an integer in range.',
  },
  TENANT_INVALID: {
    code: 'CONCORD_TENANT_INVALID',
    retryable: false,
    status: 400,
    message:
      "A submit message's `concord-tenant` header is not a tenant name (1–63 letters, digits, `.`, `_`, `-`).",
  },
  EVENT_NOT_FOUND: {
    code: 'CONCORD_EVENT_NOT_FOUND',
    retryable: false,
    status: 404,
    message: 'No event with that id.',
  },
});
