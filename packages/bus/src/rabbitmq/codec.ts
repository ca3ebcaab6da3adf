import type { ConsumeMessage, Options } from 'amqplib';
import type { IncomingMessage, OutgoingMessage } from '../port.js';
import { DELIVERY_COUNT_HEADER, KEY_HEADER, MESSAGE_ID_HEADER } from './options.js';

/** AMQP properties for a message: persistent, message id, key and user headers as headers. */
export const publishOptions = (message: OutgoingMessage): Options.Publish => ({
  persistent: true,
  messageId: message.id,
  contentType: 'application/octet-stream',
  headers: { ...message.headers, [MESSAGE_ID_HEADER]: message.id, [KEY_HEADER]: message.key },
});

export const content = (payload: Uint8Array): Buffer =>
  Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);

/**
 * The bus's view of a delivery. `attempt` is 1 + the quorum queue's `x-delivery-count` (how often the
 * broker handed the message out before, e.g. to a consumer that died). Only string headers are user
 * headers; broker bookkeeping (`x-delivery-count`, `x-death`, the key header) is left out.
 */
export const incomingMessage = (delivery: ConsumeMessage): IncomingMessage => {
  const raw = (delivery.properties.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === KEY_HEADER) continue;
    if (typeof value === 'string') headers[name] = value;
    else if (Buffer.isBuffer(value)) headers[name] = value.toString('utf8');
  }
  const deliveryCount = raw[DELIVERY_COUNT_HEADER];
  const id = (delivery.properties.messageId as string | undefined) ?? headers[MESSAGE_ID_HEADER] ?? '';
  const key = raw[KEY_HEADER];
  return {
    id,
    topic: delivery.fields.routingKey,
    key: typeof key === 'string' ? key : Buffer.isBuffer(key) ? key.toString('utf8') : id,
    payload: delivery.content,
    headers: { ...headers, [MESSAGE_ID_HEADER]: id },
    attempt: (typeof deliveryCount === 'number' ? deliveryCount : 0) + 1,
  };
};
