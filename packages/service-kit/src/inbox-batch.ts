import { ConcordError } from '@concord/core';
import { DEFAULT_SCHEMA, outboxErrors } from '@concord/outbox';
import type { Tx } from '@concord/outbox';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The batch form of `inbox.handle`: records the message ids of `consumer` in the inbox table of
 * `schema` in the caller's transaction, with one statement, and returns the ids that were new — the
 * others were handled before (redeliveries) and must change nothing. A concurrent transaction
 * recording one of the ids makes this one wait for it, then see it as handled.
 */
export const recordInboxBatch = async (
  tx: Tx,
  options: {
    readonly consumer: string;
    readonly messageIds: readonly string[];
    readonly schema?: string | undefined;
  },
): Promise<Set<string>> => {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (!IDENT.test(schema)) {
    throw new ConcordError(
      outboxErrors.OUTBOX_INVALID_SCHEMA,
      `Schema name ${JSON.stringify(schema)} is invalid`,
    );
  }
  if (options.messageIds.length === 0) return new Set();
  const { rows } = await tx.query<{ message_id: string }>(
    `INSERT INTO "${schema}".inbox (consumer, message_id)
     SELECT $1, id FROM unnest($2::text[]) AS id
     ON CONFLICT DO NOTHING
     RETURNING message_id`,
    [options.consumer, [...new Set(options.messageIds)].sort()],
  );
  return new Set(rows.map((row) => row.message_id));
};
