import { ConcordError } from '@concord/core';
import { MAX_MESSAGE_BYTES, MAX_MESSAGE_ID_LENGTH } from '@concord/core/messages';
import { busErrors } from './errors.js';
import type { OutgoingMessage } from './port.js';

/**
 * Topic names: lower-case ASCII letters and digits, `.`, `_` and `-`, starting with a letter or digit,
 * at most 200 characters. The set is the intersection of what RabbitMQ routing keys and Kafka topic
 * names accept, and leaves room for the `.dlq` suffix (Kafka allows 249 characters).
 */
export const TOPIC_PATTERN = /^[a-z0-9][a-z0-9._-]{0,199}$/;

/**
 * Consumer group names: like topics, at most 50 characters, so that the RabbitMQ queue name
 * `<group>.<topic>.dlq` stays within AMQP's 255-byte limit.
 */
export const GROUP_PATTERN = /^[a-z0-9][a-z0-9._-]{0,49}$/;

/** Default `maxMessageBytes`: payload, key and headers together, below Kafka's default 1 MiB request. */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES;

/**
 * Ids are idempotency keys: an event id (DESIGN §2: ≤ 200 characters) and the longest suffix Concord
 * derives from it (core's `derivedMessageIds`), so every message id derived from an accepted event fits.
 */
const MAX_ID_LENGTH = MAX_MESSAGE_ID_LENGTH;

export const assertTopic = (topic: unknown): void => {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw new ConcordError(
      busErrors.BUS_INVALID_TOPIC,
      `Invalid topic name ${JSON.stringify(topic)}: expected ${TOPIC_PATTERN.source}`,
      { details: { topic } },
    );
  }
};

export const assertGroup = (group: unknown): void => {
  if (typeof group !== 'string' || !GROUP_PATTERN.test(group)) {
    throw new ConcordError(
      busErrors.BUS_INVALID_GROUP,
      `Invalid consumer group name ${JSON.stringify(group)}: expected ${GROUP_PATTERN.source}`,
      { details: { group } },
    );
  }
};

/** Bytes a message occupies on the wire, roughly: payload, key, id and header names and values. */
export const messageSize = (message: OutgoingMessage): number => {
  let size = message.payload.byteLength + Buffer.byteLength(message.key) + Buffer.byteLength(message.id);
  if (message.headers !== undefined) {
    for (const name in message.headers) size += name.length + Buffer.byteLength(message.headers[name] ?? '');
  }
  return size;
};

const invalidMessage = (message: string, details: unknown): ConcordError =>
  new ConcordError(busErrors.BUS_INVALID_MESSAGE, message, { details });

const assertMessage = (message: OutgoingMessage, maxMessageBytes: number): void => {
  if (typeof message.id !== 'string' || message.id === '' || message.id.length > MAX_ID_LENGTH) {
    throw invalidMessage(`Message id must be a string of 1..${MAX_ID_LENGTH} characters`, { id: message.id });
  }
  if (typeof message.key !== 'string' || message.key === '') {
    throw invalidMessage(`Message ${message.id} needs a non-empty key`, { id: message.id });
  }
  if (!(message.payload instanceof Uint8Array)) {
    throw invalidMessage(`Message ${message.id}: payload must be a Uint8Array`, { id: message.id });
  }
  for (const name in message.headers) {
    const value: unknown = message.headers[name];
    if (typeof value !== 'string') {
      throw invalidMessage(`Message ${message.id}: header ${name} must be a string`, {
        id: message.id,
        name,
      });
    }
  }
  const size = messageSize(message);
  if (size > maxMessageBytes) {
    throw new ConcordError(
      busErrors.BUS_MESSAGE_TOO_LARGE,
      `Message ${message.id} is ${size} bytes, over the limit of ${maxMessageBytes}`,
      { details: { id: message.id, size, maxMessageBytes } },
    );
  }
};

/** Throws a typed, non-retryable error for the first problem of a publish call. */
export const assertPublishable = (
  topic: string,
  messages: readonly OutgoingMessage[],
  maxMessageBytes: number,
): void => {
  assertTopic(topic);
  for (const message of messages) assertMessage(message, maxMessageBytes);
};
