import { ConcordError } from '@concord/core';
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Tx } from '../db/types.js';
import { outboxErrors } from '../errors.js';

/** A message to publish once the caller's transaction commits. */
export interface OutboxMessage {
  readonly topic: string;
  /** Ordering key (aggregate id, or event id for outcomes); also picks the key partition. */
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  /** Message id consumers dedupe on; default a random UUID. */
  readonly id?: string;
  /**
   * The trace context the message continues; default the context active when the rows are written.
   * Writers that commit several requests or messages in one transaction give each message its own.
   */
  readonly context?: Context;
}

export interface OutboxOptions {
  /** Schema holding the outbox table. Default `concord`. */
  readonly schema?: string;
}

/** Writes outbox rows inside the caller's transaction. */
export interface Outbox {
  /**
   * Inserts the messages in the caller's transaction, each with the W3C trace context active now.
   * Returns the message ids in order.
   */
  add(tx: Tx, messages: readonly OutboxMessage[]): Promise<string[]>;
}

/**
 * The INSERT of outbox rows from one JSON array parameter (`rows`, e.g. `$1`) and one bytea parameter
 * holding every payload back to back (`payloads`; see {@link outboxRows}). Short statement text whatever
 * the number of rows. The payloads travel in binary, outside the JSON: Postgres copies them instead of
 * lexing them a character at a time, and the client neither base64-encodes nor escapes them.
 */
export const outboxInsertSql = (table: string, rows = '$1', payloads = '$2'): string =>
  `INSERT INTO ${table} (message_id, topic, key, headers, payload, traceparent, tracestate)
    SELECT r.id, r.topic, r.key, r.headers, substring(${payloads}::bytea FROM r.at FOR r.len), r.traceparent,
      r.tracestate
    FROM jsonb_to_recordset(${rows}::jsonb)
      AS r(id text, topic text, key text, headers jsonb, at int, len int, traceparent text, tracestate text)`;

interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** W3C `traceparent`/`tracestate` of each context, injected once per distinct context. */
const traceCarriers = () => {
  const known = new Map<Context, TraceCarrier>();
  return (of: Context): TraceCarrier => {
    let carrier = known.get(of);
    if (carrier === undefined) {
      carrier = {};
      propagation.inject(of, carrier);
      known.set(of, carrier);
    }
    return carrier;
  };
};

/** The parameters of {@link outboxInsertSql} for some messages, and their ids in order. */
export interface OutboxRows {
  readonly ids: string[];
  /** The rows, to be JSON-serialised; each points into `payloads` (1-based `at`, `len`). */
  readonly rows: unknown[];
  /** Every message's payload, back to back. */
  readonly payloads: Buffer;
}

/**
 * The rows {@link outboxInsertSql} takes for `messages`, each with its W3C trace context (its own, or
 * the one active now).
 */
export const outboxRows = (messages: readonly OutboxMessage[]): OutboxRows => {
  const carrierOf = traceCarriers();
  const active = context.active();
  const ids: string[] = [];
  const payloads: Uint8Array[] = [];
  let at = 1;
  const rows = messages.map((message) => {
    if (message.topic === '' || typeof message.key !== 'string') {
      throw new ConcordError(
        outboxErrors.OUTBOX_INVALID_MESSAGE,
        'An outbox message needs a topic and a key',
      );
    }
    const id = message.id ?? randomUUID();
    ids.push(id);
    const { payload } = message;
    payloads.push(payload);
    const { traceparent, tracestate } = carrierOf(message.context ?? active);
    const row = {
      id,
      topic: message.topic,
      key: message.key,
      headers: message.headers ?? {},
      at,
      len: payload.byteLength,
      traceparent,
      tracestate,
    };
    at += payload.byteLength;
    return row;
  });
  return { ids, rows, payloads: Buffer.concat(payloads, at - 1) };
};

/** Creates the outbox writer. */
export const createOutbox = (options: OutboxOptions = {}): Outbox => {
  const insert = outboxInsertSql(`${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.outbox`);
  return {
    async add(tx, messages) {
      if (messages.length === 0) return [];
      const { ids, rows, payloads } = outboxRows(messages);
      await tx.query(insert, [JSON.stringify(rows), payloads]);
      return ids;
    },
  };
};
