import type { JsonObject } from '@concord/core';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Tx } from '../db/types.js';

export interface RejectionStoreOptions {
  /** Schema holding the event store tables. Default `concord`. */
  readonly schema?: string;
}

/** An event refused before classification (it failed validation) whose id is usable. */
export interface Rejection {
  readonly eventId: string;
  /** What could be read of the event; empty when absent or unstorable. */
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The stable error (`{ code, message, details? }`), kept as the event's details. */
  readonly error: JsonObject;
}

/**
 * Records invalid events in the event store with the outcome `rejected` (never applied, never in the
 * feed), so their outcome is queryable by id like any other event's (DESIGN §3). Their content is not
 * kept: it is invalid, and may hold text the database cannot store.
 */
export interface RejectionStore {
  /** Records the rejections whose ids name no stored event; returns the ids it recorded. */
  record(tx: Tx, rejections: readonly Rejection[]): Promise<Set<string>>;
}

/** Text Postgres stores: no U+0000, no unpaired surrogate. */
const storable = (text: string): string => (text.includes('\u0000') || !text.isWellFormed() ? '' : text);

/** jsonb refuses `\u0000` and unpaired surrogates; such an error keeps only its code. */
const storableJson = (error: JsonObject): string => {
  const text = JSON.stringify(error);
  return /\\u(0000|d[89a-f])/i.test(text) ? JSON.stringify({ code: error['code'] ?? null }) : text;
};

export const createRejectionStore = (options: RejectionStoreOptions = {}): RejectionStore => {
  const events = `${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.events`;
  return {
    async record(tx, rejections) {
      if (rejections.length === 0) return new Set();
      const { rows } = await tx.query<{ event_id: string }>(
        `INSERT INTO ${events} (event_id, type, aggregate_type, aggregate_id, data, outcome, applied, details)
         SELECT r.event_id, r.type, r.aggregate_type, r.aggregate_id, '{}'::jsonb, 'rejected', false,
           jsonb_build_object('error', r.error)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
           AS r (event_id, type, aggregate_type, aggregate_id, error)
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id`,
        [
          rejections.map((r) => r.eventId),
          rejections.map((r) => storable(r.type)),
          rejections.map((r) => storable(r.aggregateType)),
          rejections.map((r) => storable(r.aggregateId)),
          rejections.map((r) => storableJson(r.error)),
        ],
      );
      return new Set(rows.map((row) => row.event_id));
    },
  };
};
