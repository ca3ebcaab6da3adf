import { ConcordError } from '@concord/core';

/** Stable error codes raised by @concord/outbox. */
export const OutboxErrorCode = {
  invalidSchema: 'CONCORD_OUTBOX_INVALID_SCHEMA',
  migrationChecksum: 'CONCORD_MIGRATION_CHECKSUM_MISMATCH',
  migrationFailed: 'CONCORD_MIGRATION_FAILED',
  migrationFiles: 'CONCORD_MIGRATION_FILES',
  invalidMessage: 'CONCORD_OUTBOX_INVALID_MESSAGE',
  closed: 'CONCORD_OUTBOX_CLOSED',
  fenced: 'CONCORD_OUTBOX_FENCED',
  eventNotFound: 'CONCORD_EVENT_NOT_FOUND',
  invalidCursor: 'CONCORD_INVALID_CURSOR',
} as const;

export const outboxError = (
  code: (typeof OutboxErrorCode)[keyof typeof OutboxErrorCode],
  message: string,
  options: { retryable?: boolean; cause?: unknown; details?: unknown } = {},
): ConcordError => new ConcordError(code, message, options);
