import { isConcordError } from '@concord/core';

/**
 * HTTP status for each stable error code, decided at the edge. Codes not listed map by their
 * retryability: retryable → 503, otherwise 400.
 */
const statusByCode = new Map<string, number>([
  ['CONCORD_BATCH_INVALID', 400],
  ['CONCORD_BATCH_TOO_LARGE', 413],
  ['CONCORD_BODY_TOO_LARGE', 413],
  ['CONCORD_NOT_FOUND', 404],
  ['CONCORD_CONFLICT_NOT_FOUND', 404],
  ['CONCORD_EVENT_NOT_FOUND', 404],
  ['CONCORD_AGGREGATE_NOT_FOUND', 404],
  ['CONCORD_CONFLICT_ALREADY_DECIDED', 409],
  ['CONCORD_NOT_READY', 503],
  ['CONCORD_INTERNAL', 500],
]);

export const registerErrorStatus = (code: string, status: number): void => {
  statusByCode.set(code, status);
};

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (isConcordError(error)) {
    const status = statusByCode.get(error.code) ?? (error.retryable ? 503 : 400);
    const body: ErrorBody = {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      },
    };
    return { status, body };
  }
  return { status: 500, body: { error: { code: 'CONCORD_INTERNAL', message: 'internal error' } } };
}
