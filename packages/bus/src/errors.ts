import { ConcordError } from '@concord/core';

/** Stable error codes the bus raises. `retryable` says whether trying again later can help. */
export const BUS_ERROR_CODES = {
  /** The bus (or subscription) was closed; nothing more can be published through it. */
  closed: 'CONCORD_BUS_CLOSED',
  /** A topic name does not match {@link TOPIC_PATTERN}. */
  invalidTopic: 'CONCORD_BUS_INVALID_TOPIC',
  /** A consumer group name does not match {@link GROUP_PATTERN}. */
  invalidGroup: 'CONCORD_BUS_INVALID_GROUP',
  /** A message lacks an id or key, or carries a non-string header. */
  invalidMessage: 'CONCORD_BUS_INVALID_MESSAGE',
  /** A message is larger than the bus's `maxMessageBytes`. */
  messageTooLarge: 'CONCORD_BUS_MESSAGE_TOO_LARGE',
  /** Options passed to a bus or subscription are invalid. */
  invalidOptions: 'CONCORD_BUS_INVALID_OPTIONS',
  /** `BROKER` names no registered adapter. */
  unknownBroker: 'CONCORD_BUS_UNKNOWN_BROKER',
  /** The broker could not be reached, or did not confirm in time (retryable). */
  unavailable: 'CONCORD_BUS_UNAVAILABLE',
  /**
   * No queue takes a message of the topic: no consumer group of it was declared (retryable: the
   * publisher keeps the message and tries again once one is).
   */
  unroutable: 'CONCORD_BUS_UNROUTABLE',
} as const;

export type BusErrorCode = (typeof BUS_ERROR_CODES)[keyof typeof BUS_ERROR_CODES];

export const busClosedError = (what = 'bus'): ConcordError =>
  new ConcordError(BUS_ERROR_CODES.closed, `The ${what} is closed`, { retryable: false });

export const busUnavailableError = (message: string, cause?: unknown): ConcordError =>
  new ConcordError(BUS_ERROR_CODES.unavailable, message, { retryable: true, cause });

export const busUnroutableError = (topic: string): ConcordError =>
  new ConcordError(
    BUS_ERROR_CODES.unroutable,
    `No consumer group's queue takes messages of ${topic}: none is declared`,
    { retryable: true, details: { topic } },
  );

export const invalidOptionsError = (message: string, details?: unknown): ConcordError =>
  new ConcordError(BUS_ERROR_CODES.invalidOptions, message, { retryable: false, details });

/** Runs `work` and returns its result as a promise: a synchronous throw becomes a rejection. */
export const promised = <T>(work: () => T | Promise<T>): Promise<T> =>
  new Promise<T>((resolve) => resolve(work()));
