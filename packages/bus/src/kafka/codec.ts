import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { IncomingMessage, MessageHeaders, OutgoingMessage } from '../port.js';

/** Header that carries the message id on the wire (DESIGN §4). */
export const MESSAGE_ID_HEADER = 'message-id';

const EMPTY = new Uint8Array(0);

/** The kafkajs record for a message: key as given, payload without a copy, `message-id` in the headers. */
export const toKafkaMessage = (message: OutgoingMessage): Message => ({
  key: message.key,
  value: Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength),
  headers: { ...message.headers, [MESSAGE_ID_HEADER]: message.id },
});

const headerText = (value: IHeaders[string]): string | undefined => {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last === undefined ? undefined : last.toString();
};

const decodeHeaders = (headers: IHeaders | undefined): MessageHeaders => {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const text = headerText(value);
    if (text !== undefined) decoded[name] = text;
  }
  return decoded;
};

export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
}

/**
 * The message a handler sees. A record without `message-id`, or with an empty one (written by a foreign
 * producer), gets a stable id from its position, so redeliveries of it still dedupe and no two such
 * records share an id (an empty id would make every later one look like a redelivery of the first).
 */
export const fromKafkaMessage = (record: KafkaMessage, position: RecordPosition): IncomingMessage => {
  const headers = decodeHeaders(record.headers);
  const id = headers[MESSAGE_ID_HEADER] || `${position.topic}-${position.partition}-${record.offset}`;
  return {
    id,
    topic: position.topic,
    // A keyless record is ordered with nothing; its id keys it (a dead letter needs a key).
    key: record.key?.toString() || id,
    payload: record.value ?? EMPTY,
    headers,
    attempt: 1,
  };
};
