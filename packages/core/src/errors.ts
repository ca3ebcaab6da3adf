/**
 * Every error Concord raises carries a stable string `code` and says whether retrying can help.
 * Consumers decide retry vs dead-letter from `retryable` alone; HTTP maps codes to statuses at the edge.
 */
export interface ConcordErrorOptions {
  readonly retryable?: boolean;
  readonly cause?: unknown;
  readonly details?: unknown;
}

export class ConcordError extends Error {
  override readonly name: string = 'ConcordError';
  readonly code: string;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: string, message: string, options: ConcordErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

export const isConcordError = (value: unknown): value is ConcordError => value instanceof ConcordError;

/** Retryable unless it says otherwise: an unknown failure (network, timeout) may well pass on a retry. */
export const isRetryable = (error: unknown): boolean => (isConcordError(error) ? error.retryable : true);

export const errorCode = (error: unknown): string =>
  isConcordError(error) ? error.code : 'CONCORD_INTERNAL';
