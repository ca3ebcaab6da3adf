import { ConcordError } from '@concord/core';
import { outboxErrors } from '../errors.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quotes a schema name after checking it is a plain lower-case identifier. */
export const quoteSchema = (schema: string): string => {
  if (!IDENT.test(schema)) {
    throw new ConcordError(
      outboxErrors.OUTBOX_INVALID_SCHEMA,
      `Schema name ${JSON.stringify(schema)} must match ${IDENT.source}`,
    );
  }
  return `"${schema}"`;
};

/** The NOTIFY channel the outbox trigger of a schema signals on (see migrations/outbox/functions/outbox_notify.sql). */
export const outboxChannel = (schema: string): string => `${schema}_outbox`;

export const DEFAULT_SCHEMA = 'concord';
