import { errorCode } from '@concord/core';
import { DLQ_HEADERS } from '../port.js';
import type { IncomingMessage, OutgoingMessage } from '../port.js';

const MAX_REASON_LENGTH = 1_000;

/** What made a consumer give up on a message. */
export interface DeadLetterCause {
  readonly error: unknown;
  /** Attempts made, the failing one included. */
  readonly attempts: number;
  readonly group: string;
}

const reasonOf = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 1)}…` : text;
};

/**
 * The copy of `message` that goes to `<topic>.dlq`: same id, key, payload and headers, plus the
 * {@link DLQ_HEADERS} (error code, reason, attempts, original topic, group).
 */
export const deadLetterMessage = (message: IncomingMessage, cause: DeadLetterCause): OutgoingMessage => ({
  id: message.id,
  key: message.key,
  payload: message.payload,
  headers: {
    ...message.headers,
    [DLQ_HEADERS.errorCode]: errorCode(cause.error),
    [DLQ_HEADERS.reason]: reasonOf(cause.error),
    [DLQ_HEADERS.attempts]: String(cause.attempts),
    [DLQ_HEADERS.originalTopic]: message.topic,
    [DLQ_HEADERS.group]: cause.group,
  },
});
