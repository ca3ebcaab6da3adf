import { defineErrors } from '@concord/core';

/** `@concord/outbox`'s codes: the outbox and its relay, the event store, migrations. */
export const outboxErrors = defineErrors({
  OUTBOX_INVALID_SCHEMA: {
    code: 'CONCORD_OUTBOX_INVALID_SCHEMA',
    retryable: false,
    message: 'DATABASE_SCHEMA is not a plain lower-case SQL identifier.',
  },
  OUTBOX_INVALID_MESSAGE: {
    code: 'CONCORD_OUTBOX_INVALID_MESSAGE',
    retryable: false,
    message: 'An outbox message lacks a topic or key.',
  },
  OUTBOX_LISTEN_FAILED: {
    code: 'CONCORD_OUTBOX_LISTEN_FAILED',
    retryable: true,
    message: "The relay's LISTEN failed; it polls and tries again (retryable).",
  },
  AGGREGATE_MOVED: {
    code: 'CONCORD_AGGREGATE_MOVED',
    retryable: true,
    message:
      'An append was given state at a version the aggregate has left: the caller must lock the aggregate first (internal).',
  },
  INVALID_CURSOR: {
    code: 'CONCORD_INVALID_CURSOR',
    retryable: false,
    status: 400,
    message: 'A cursor (feed, conflicts, history, dead letters) this server did not issue.',
  },
  MIGRATION_CHECKSUM_MISMATCH: {
    code: 'CONCORD_MIGRATION_CHECKSUM_MISMATCH',
    retryable: false,
    message: 'A migration file changed after it was applied.',
  },
  MIGRATION_FAILED: {
    code: 'CONCORD_MIGRATION_FAILED',
    retryable: false,
    message:
      'A migration failed (rolled back), or the schema holds only part of the pre-owner migration chain.',
  },
  MIGRATION_FILES: {
    code: 'CONCORD_MIGRATION_FILES',
    retryable: false,
    message: "An owner's migrations folder holds a badly named or duplicate file.",
  },
});
