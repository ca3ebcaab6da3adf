import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Tx } from '../db/types.js';
import { outboxError } from '../errors.js';

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
 * The INSERT of outbox rows from one JSON array parameter (`param`, e.g. `$1`; see {@link outboxRows}).
 * One short statement text whatever the number of rows, and one parameter: the driver serialises it with
 * a single JSON.stringify (no per-value array-literal escaping) and Postgres parses it in one pass.
 */
export const outboxInsertSql = (table: string, param = '$1'): string =>
  `INSERT INTO ${table} (message_id, topic, key, headers, payload, traceparent, tracestate)
    SELECT r.id, r.topic, r.key, r.headers, decode(r.payload, 'base64'), r.traceparent, r.tracestate
    FROM jsonb_to_recordset(${param}::jsonb)
      AS r(id text, topic text, key text, headers jsonb, payload text, traceparent text, tracestate text)`;

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

/**
 * The rows {@link outboxInsertSql} takes for `messages` (to be JSON-serialised), each with its W3C trace
 * context (its own, or the one active now), and the message ids in order.
 */
export const outboxRows = (messages: readonly OutboxMessage[]): { ids: string[]; rows: unknown[] } => {
  const carrierOf = traceCarriers();
  const active = context.active();
  const ids: string[] = [];
  const rows = messages.map((message) => {
    if (message.topic === '' || typeof message.key !== 'string') {
      throw outboxError('CONCORD_OUTBOX_INVALID_MESSAGE', 'An outbox message needs a topic and a key');
    }
    const id = message.id ?? randomUUID();
    ids.push(id);
    const { payload } = message;
    const { traceparent, tracestate } = carrierOf(message.context ?? active);
    return {
      id,
      topic: message.topic,
      key: message.key,
      headers: message.headers ?? {},
      payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'),
      traceparent,
      tracestate,
    };
  });
  return { ids, rows };
};

/** Creates the outbox writer. */
export const createOutbox = (options: OutboxOptions = {}): Outbox => {
  const insert = outboxInsertSql(`${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.outbox`);
  return {
    async add(tx, messages) {
      if (messages.length === 0) return [];
      const { ids, rows } = outboxRows(messages);
      await tx.query(insert, [JSON.stringify(rows)]);
      return ids;
    },
  };
};
