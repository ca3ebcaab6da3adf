import { createHash } from 'node:crypto';
import type { ConsumeMessage, Options } from 'amqplib';
import type { IncomingMessage, OutgoingMessage } from '../port.js';
import { DELIVERY_COUNT_HEADER, KEY_HEADER, MESSAGE_ID_HEADER } from './options.js';

/** Longest AMQP `shortstr`, such as the `message_id` property, in UTF-8 bytes. */
const MAX_SHORTSTR_BYTES = 255;

/**
 * AMQP properties for a message: persistent, mandatory (returned if no queue takes it), message id, key
 * and user headers as headers.
 */
export const publishOptions = (message: OutgoingMessage): Options.Publish => ({
  persistent: true,
  mandatory: true,
  // The id always travels in the `message-id` header, which decoding falls back to; the `message_id`
  // property is an AMQP shortstr (≤ 255 bytes), too short for some ids the bus accepts (230 characters).
  ...(Buffer.byteLength(message.id) <= MAX_SHORTSTR_BYTES ? { messageId: message.id } : {}),
  contentType: 'application/octet-stream',
  headers: { ...message.headers, [MESSAGE_ID_HEADER]: message.id, [KEY_HEADER]: message.key },
});

export const content = (payload: Uint8Array): Buffer =>
  Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);

/** Prefix of the ids {@link derivedMessageId} gives messages published without one. */
export const DERIVED_ID_PREFIX = 'sha256:';

/**
 * The id of a message a foreign producer published without `message_id` (or with an empty one): a
 * SHA-256 of its routing key, key header and body. RabbitMQ gives a delivery no stable position (a
 * delivery tag is per channel), so its content is the only identity that survives a redelivery. Two
 * identical id-less messages get the same id and the second is taken for a redelivery of the first: that
 * is sound for Concord's topics, whose payloads carry their own idempotency keys (a submit message's
 * event ids), so the second would have had no effect but `duplicate` outcomes. Without this, every
 * id-less message shared the id `''` and all but the first were dropped as redeliveries.
 */
export const derivedMessageId = (topic: string, key: string | undefined, payload: Uint8Array): string => {
  const hash = createHash('sha256');
  for (const part of [topic, key ?? '']) hash.update(`${Buffer.byteLength(part)}:${part}`);
  return `${DERIVED_ID_PREFIX}${hash.update(payload).digest('hex')}`;
};

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;

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
  const topic = delivery.fields.routingKey;
  const key = text(raw[KEY_HEADER]);
  const given = text(delivery.properties.messageId) || headers[MESSAGE_ID_HEADER];
  const id = given || derivedMessageId(topic, key, delivery.content);
  return {
    id,
    topic,
    key: key || id,
    payload: delivery.content,
    headers: { ...headers, [MESSAGE_ID_HEADER]: id },
    attempt: (typeof deliveryCount === 'number' ? deliveryCount : 0) + 1,
  };
};
