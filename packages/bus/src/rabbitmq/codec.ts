import { createHash } from 'node:crypto';
import type { ConsumeMessage, Options } from 'amqplib';
import type { IncomingMessage, OutgoingMessage } from '../port.js';
import { DELIVERY_COUNT_HEADER, KEY_HEADER, MESSAGE_ID_HEADER } from './options.js';

/** The content type of what the bus publishes: bytes it does not look into. */
const OUR_CONTENT_TYPE = 'application/octet-stream';

/**
 * CloudEvents attributes as AMQP application properties (`cloudEvents:<name>` or `cloudEvents_<name>`),
 * which a producer may send as numbers or booleans: handlers see them as text, as the binding's
 * string forms (an integer's decimal digits).
 */
const CLOUDEVENTS_PROPERTY = /^cloudevents[:_]/i;

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
  // property is an AMQP shortstr (≤ 255 bytes), too short for some ids the bus accepts (294 characters).
  ...(Buffer.byteLength(message.id) <= MAX_SHORTSTR_BYTES ? { messageId: message.id } : {}),
  // A binary-mode CloudEvent's `datacontenttype` is the content-type property (CloudEvents AMQP binding).
  contentType: message.headers?.['content-type'] ?? OUR_CONTENT_TYPE,
  headers: { ...message.headers, [MESSAGE_ID_HEADER]: message.id, [KEY_HEADER]: message.key },
});

export const content = (payload: Uint8Array): Buffer =>
  Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);

/** Prefix of the ids {@link derivedMessageId} gives messages published without one. */
export const DERIVED_ID_PREFIX = 'sha256:';

/** What a derived message id is a hash of. */
export interface DerivedIdSource {
  readonly topic: string;
  readonly key: string | undefined;
  readonly payload: Uint8Array;
  /** The message's CloudEvents application properties (binary mode), as text. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * The id of a message a foreign producer published without `message_id` (or with an empty one): a
 * SHA-256 of its routing key, key header and body, and of its CloudEvents application properties when it
 * has some. RabbitMQ gives a delivery no stable position (a delivery tag is per channel), so its content
 * is the only identity that survives a redelivery. Two identical id-less messages get the same id and the
 * second is taken for a redelivery of the first: that is sound for Concord's topics, whose messages carry
 * their own idempotency keys (a submit message's event ids, in its payload or, for a binary-mode
 * CloudEvent, in its `cloudEvents_id` property — hence the properties in the hash: two events with the
 * same data are different messages), so the second would have had no effect but `duplicate` outcomes.
 * Without this, every id-less message shared the id `''` and all but the first were dropped as
 * redeliveries.
 */
export const derivedMessageId = (source: DerivedIdSource): string => {
  const hash = createHash('sha256');
  const attributes = Object.entries(source.attributes ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flat();
  for (const part of [source.topic, source.key ?? '', ...attributes]) {
    hash.update(`${Buffer.byteLength(part)}:${part}`);
  }
  return `${DERIVED_ID_PREFIX}${hash.update(source.payload).digest('hex')}`;
};

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;

/**
 * The bus's view of a delivery from a queue of `topic` (a shard's routing key is `<topic>.<n>`, so the
 * consumer names the topic; it defaults to the routing key, which is the topic on a lane). `attempt` is 1 + the quorum queue's `x-delivery-count` (how often the
 * broker handed the message out before, e.g. to a consumer that died). Only string headers are user
 * headers (and CloudEvents application properties of other primitive types, as text), and a foreign
 * producer's content-type property is the `content-type` header; broker bookkeeping (`x-delivery-count`,
 * `x-death`, the key header) is left out.
 */
export const incomingMessage = (
  delivery: ConsumeMessage,
  topic: string = delivery.fields.routingKey,
): IncomingMessage => {
  const raw = (delivery.properties.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === KEY_HEADER) continue;
    if (typeof value === 'string') headers[name] = value;
    else if (Buffer.isBuffer(value)) headers[name] = value.toString('utf8');
    else if (CLOUDEVENTS_PROPERTY.test(name) && (typeof value === 'number' || typeof value === 'boolean')) {
      headers[name] = String(value);
    }
  }
  // CloudEvents' AMQP binding maps `datacontenttype` to the content-type property; ours is octet-stream.
  const contentType = delivery.properties.contentType as unknown;
  if (
    typeof contentType === 'string' &&
    contentType !== OUR_CONTENT_TYPE &&
    headers['content-type'] === undefined
  ) {
    headers['content-type'] = contentType;
  }
  const deliveryCount = raw[DELIVERY_COUNT_HEADER];
  const key = text(raw[KEY_HEADER]);
  const given = text(delivery.properties.messageId) || headers[MESSAGE_ID_HEADER];
  const attributes = Object.fromEntries(
    Object.entries(headers).filter(([name]) => CLOUDEVENTS_PROPERTY.test(name)),
  );
  const id = given || derivedMessageId({ topic, key, payload: delivery.content, attributes });
  return {
    id,
    topic,
    key: key || id,
    payload: delivery.content,
    headers: { ...headers, [MESSAGE_ID_HEADER]: id },
    attempt: (typeof deliveryCount === 'number' ? deliveryCount : 0) + 1,
  };
};
