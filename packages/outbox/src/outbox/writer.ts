import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
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

const COLUMNS = 7;

/** Creates the outbox writer. */
export const createOutbox = (options: OutboxOptions = {}): Outbox => {
  const table = `${quoteSchema(options.schema ?? DEFAULT_SCHEMA)}.outbox`;
  return {
    async add(tx, messages) {
      if (messages.length === 0) return [];
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const traceparent = carrier.traceparent ?? null;
      const tracestate = carrier.tracestate ?? null;
      const ids: string[] = [];
      const params: unknown[] = [];
      const tuples: string[] = [];
      messages.forEach((message, index) => {
        if (message.topic === '' || typeof message.key !== 'string') {
          throw outboxError('CONCORD_OUTBOX_INVALID_MESSAGE', 'An outbox message needs a topic and a key');
        }
        const id = message.id ?? randomUUID();
        ids.push(id);
        const n = index * COLUMNS;
        tuples.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7})`);
        params.push(
          id,
          message.topic,
          message.key,
          JSON.stringify(message.headers ?? {}),
          message.payload,
          traceparent,
          tracestate,
        );
      });
      await tx.query(
        `INSERT INTO ${table} (message_id, topic, key, headers, payload, traceparent, tracestate)
         VALUES ${tuples.join(', ')}`,
        params,
      );
      return ids;
    },
  };
};
