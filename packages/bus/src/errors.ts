import { ConcordError, defineErrors } from '@concord/core';

/** `@concord/bus`'s codes. `retryable` says whether trying again later can help. */
export const busErrors = defineErrors({
  BUS_CLOSED: {
    code: 'CONCORD_BUS_CLOSED',
    retryable: false,
    message: 'The bus (or subscription) was closed; nothing more can be published through it.',
  },
  BUS_INVALID_TOPIC: {
    code: 'CONCORD_BUS_INVALID_TOPIC',
    retryable: false,
    message: 'A topic name does not match TOPIC_PATTERN.',
  },
  BUS_INVALID_GROUP: {
    code: 'CONCORD_BUS_INVALID_GROUP',
    retryable: false,
    message: 'A consumer group name does not match GROUP_PATTERN.',
  },
  BUS_INVALID_MESSAGE: {
    code: 'CONCORD_BUS_INVALID_MESSAGE',
    retryable: false,
    message: 'A message lacks an id or key, or carries a non-string header.',
  },
  BUS_MESSAGE_TOO_LARGE: {
    code: 'CONCORD_BUS_MESSAGE_TOO_LARGE',
    retryable: false,
    message: "A message is larger than the bus's `maxMessageBytes`.",
  },
  BUS_INVALID_OPTIONS: {
    code: 'CONCORD_BUS_INVALID_OPTIONS',
    retryable: false,
    message: 'Options passed to a bus or subscription are invalid.',
  },
  BUS_UNKNOWN_BROKER: {
    code: 'CONCORD_BUS_UNKNOWN_BROKER',
    retryable: false,
    message: '`BROKER` names no registered adapter.',
  },
  BUS_UNAVAILABLE: {
    code: 'CONCORD_BUS_UNAVAILABLE',
    retryable: true,
    message: 'The broker could not be reached, or did not confirm in time (retryable).',
  },
  BUS_UNROUTABLE: {
    code: 'CONCORD_BUS_UNROUTABLE',
    retryable: true,
    message:
      'No queue takes a message of the topic: no consumer group of it was declared (retryable: the publisher keeps the message and tries again once one is).',
  },
  MESSAGE_MALFORMED: {
    code: 'CONCORD_MESSAGE_MALFORMED',
    retryable: false,
    message:
      'A message payload is not the UTF-8 JSON its topic carries, or not the message the topic carries: dead-lettered at once.',
  },
});

export const busClosedError = (what = 'bus'): ConcordError =>
  new ConcordError(busErrors.BUS_CLOSED, `The ${what} is closed`, { retryable: false });

export const busUnavailableError = (message: string, cause?: unknown): ConcordError =>
  new ConcordError(busErrors.BUS_UNAVAILABLE, message, { retryable: true, cause });

export const busUnroutableError = (topic: string): ConcordError =>
  new ConcordError(
    busErrors.BUS_UNROUTABLE,
    `No consumer group's queue takes messages of ${topic}: none is declared`,
    { retryable: true, details: { topic } },
  );

export const invalidOptionsError = (message: string, details?: unknown): ConcordError =>
  new ConcordError(busErrors.BUS_INVALID_OPTIONS, message, { retryable: false, details });

/** Runs `work` and returns its result as a promise: a synchronous throw becomes a rejection. */
export const promised = <T>(work: () => T | Promise<T>): Promise<T> =>
  new Promise<T>((resolve) => resolve(work()));
