import { defineErrors, isConcordError, coreErrors } from '@concord/core';

/** `@concord/service-kit`'s codes: HTTP (routing, bodies, authentication) and the service lifecycle. */
export const serviceKitErrors = defineErrors({
  NOT_FOUND: {
    code: 'CONCORD_NOT_FOUND',
    retryable: false,
    status: 404,
    message: 'No route or resource at that path.',
  },
  BAD_URL: {
    code: 'CONCORD_BAD_URL',
    retryable: false,
    status: 400,
    message: 'The request path is not valid percent-encoded UTF-8.',
  },
  URL_TOO_LONG: {
    code: 'CONCORD_URL_TOO_LONG',
    retryable: false,
    status: 414,
    message: 'A path parameter is longer than any id can be.',
  },
  BODY_TOO_LARGE: {
    code: 'CONCORD_BODY_TOO_LARGE',
    retryable: false,
    status: 413,
    message:
      'The request body (after decompression) is over the configured limit (ingest: 4 MiB by default).',
  },
  REQUEST_INVALID: {
    code: 'CONCORD_REQUEST_INVALID',
    retryable: false,
    status: 400,
    message: 'The request (its body or a parameter) is malformed (e.g. a rebuild request).',
  },
  UNSUPPORTED_ENCODING: {
    code: 'CONCORD_UNSUPPORTED_ENCODING',
    retryable: false,
    status: 415,
    message: 'A request body in an encoding this server does not decode (`Content-Encoding`).',
  },
  BODY_ENCODING_INVALID: {
    code: 'CONCORD_BODY_ENCODING_INVALID',
    retryable: false,
    status: 400,
    message: 'A compressed request body that does not decompress.',
  },
  UNAUTHENTICATED: {
    code: 'CONCORD_UNAUTHENTICATED',
    retryable: false,
    status: 401,
    message:
      'No bearer token, or one that is malformed, expired, badly signed, for another issuer or audience, without `sub`, or an unknown API key (`WWW-Authenticate: Bearer`).',
  },
  FORBIDDEN: {
    code: 'CONCORD_FORBIDDEN',
    retryable: false,
    status: 403,
    message:
      "The credential lacks the route's scope (`WWW-Authenticate: Bearer error=\"insufficient_scope\"`), the route declares no scope (deny by default), or a decision's or reopen's `userId` names someone other than the authenticated subject.",
  },
  AUTH_UNAVAILABLE: {
    code: 'CONCORD_AUTH_UNAVAILABLE',
    retryable: true,
    status: 503,
    message: 'The JWKS (`CONCORD_AUTH_JWKS_URL`) that verifies the token could not be fetched; retryable.',
  },
  RATE_LIMITED: {
    code: 'CONCORD_RATE_LIMITED',
    retryable: true,
    status: 429,
    message:
      'More requests this minute than `CONCORD_RATE_LIMIT_PER_MIN` for this API key or token subject (client address with authentication off); `Retry-After` says when the minute ends; retryable.',
  },
  NOT_READY: {
    code: 'CONCORD_NOT_READY',
    retryable: true,
    status: 503,
    message: 'The service is starting or shutting down; retryable.',
  },
  BATCHER_CLOSED: {
    code: 'CONCORD_BATCHER_CLOSED',
    retryable: true,
    status: 503,
    message: 'A group commit was asked for after its batcher closed (shutdown); retryable.',
  },
  CONSUMER_CLOSED: {
    code: 'CONCORD_CONSUMER_CLOSED',
    retryable: true,
    status: 503,
    message: 'A message reached a consumer that is shutting down; retryable (redelivered).',
  },
  DEAD_LETTER_NOT_FOUND: {
    code: 'CONCORD_DEAD_LETTER_NOT_FOUND',
    retryable: false,
    status: 404,
    message:
      "No dead letter of that kind with that id here: it never was, it was replayed already, or it is another service's (a bus dead letter of a group this service does not run).",
  },
  DEAD_LETTER_NOT_REPLAYABLE: {
    code: 'CONCORD_DEAD_LETTER_NOT_REPLAYABLE',
    retryable: false,
    status: 409,
    message:
      'The dead letter is there but cannot be replayed: a webhook delivery whose subscription was deleted, or whose notification the log no longer holds (`details.reason`). It stays listed.',
  },
  DEAD_LETTER_KIND_UNAVAILABLE: {
    code: 'CONCORD_DEAD_LETTER_KIND_UNAVAILABLE',
    retryable: false,
    status: 404,
    message:
      "This service keeps no dead letters of that kind: webhook dead letters are the notifier's (`details.kinds` lists what it keeps).",
  },
  CONFIG_INVALID: {
    code: 'CONCORD_CONFIG_INVALID',
    retryable: false,
    message:
      'The environment (or a file it names, such as the API keys file) failed validation at start; every problem is listed.',
  },
});

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

/**
 * The answer for a thrown value: a Concord error gets the HTTP status its table gives its code (without
 * one: 503 when retryable, otherwise 400); anything else is a bug, 500 `CONCORD_INTERNAL`.
 */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (isConcordError(error)) {
    const status = error.status ?? (error.retryable ? 503 : 400);
    const body: ErrorBody = {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      },
    };
    return { status, body };
  }
  return { status: 500, body: { error: { code: coreErrors.INTERNAL.code, message: 'internal error' } } };
}
