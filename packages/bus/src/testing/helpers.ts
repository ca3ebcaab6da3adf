import type { IncomingMessage, MessageBus, OutgoingMessage } from '../port.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const text = (value: string): Uint8Array => encoder.encode(value);
export const readText = (payload: Uint8Array): string => decoder.decode(payload);

export { delay, unique as uniqueSuffix, waitFor } from './wait.js';

/** A handler that records what it receives. */
export const collector = () => {
  const received: IncomingMessage[] = [];
  return {
    received,
    ids: () => received.map((message) => message.id),
    handler: (message: IncomingMessage): Promise<void> => {
      received.push(message);
      return Promise.resolve();
    },
  };
};

export const message = (
  id: string,
  key: string,
  body = id,
  headers?: Record<string, string>,
): OutgoingMessage =>
  headers === undefined ? { id, key, payload: text(body) } : { id, key, payload: text(body), headers };

/** Publishes in batches of `batchSize`. */
export const publishAll = async (
  bus: MessageBus,
  topic: string,
  messages: readonly OutgoingMessage[],
  batchSize = 50,
): Promise<void> => {
  for (let start = 0; start < messages.length; start += batchSize) {
    await bus.publish(topic, messages.slice(start, start + batchSize));
  }
};

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export const gate = () => {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
};
