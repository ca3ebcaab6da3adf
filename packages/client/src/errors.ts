/**
 * The client's errors: a stable `code`, whether retrying can help, and for a push-back how long the
 * server asked to wait. One table in the shape of the server packages' (`defineErrors` of
 * `@concord/core`, which this dependency-free SDK does not import), listed in the package README and
 * in docs/errors.md (tests hold them together).
 */
export const clientErrors = Object.freeze({
  CLIENT_OFFLINE: {
    code: 'CONCORD_CLIENT_OFFLINE',
    retryable: true,
    message: 'Client SDK: the server could not be reached; the queue is kept and retried.',
  },
  CLIENT_PUSHED_BACK: {
    code: 'CONCORD_CLIENT_PUSHED_BACK',
    retryable: true,
    message: 'Client SDK: the server answered 429 or 503; the client waits for Retry-After (`retryAfterMs`).',
  },
  CLIENT_SERVER_ERROR: {
    code: 'CONCORD_CLIENT_SERVER_ERROR',
    retryable: true,
    message: 'Client SDK: the server failed with another 5xx answer.',
  },
  CLIENT_UNAUTHORIZED: {
    code: 'CONCORD_CLIENT_UNAUTHORIZED',
    retryable: false,
    message: 'Client SDK: the server answered 401 or 403 (the token is missing, expired or lacks a scope).',
  },
  CLIENT_REQUEST_REFUSED: {
    code: 'CONCORD_CLIENT_REQUEST_REFUSED',
    retryable: false,
    message: 'Client SDK: the server refused a request with another 4xx answer (its code in `serverCode`).',
  },
  CLIENT_BAD_RESPONSE: {
    code: 'CONCORD_CLIENT_BAD_RESPONSE',
    retryable: true,
    message: "Client SDK: the server answered with something that is not Concord's HTTP API.",
  },
  CLIENT_INVALID: {
    code: 'CONCORD_CLIENT_INVALID',
    retryable: false,
    message:
      'Client SDK: the arguments of a client call are invalid (empty origin, data that is not an object, …).',
  },
  CLIENT_CLOSED: {
    code: 'CONCORD_CLIENT_CLOSED',
    retryable: false,
    message: 'Client SDK: the client was used after close().',
  },
  CLIENT_STORE: {
    code: 'CONCORD_CLIENT_STORE',
    retryable: false,
    message: 'Client SDK: the local store failed to load or write (or a file is not a Concord client store).',
  },
} as const);

type ClientErrorEntry = (typeof clientErrors)[keyof typeof clientErrors];
export type ClientErrorCode = ClientErrorEntry['code'];

/**
 * The server's code (service-kit's `CONCORD_BODY_TOO_LARGE`) the client reports as an event's rejection
 * when that event alone is over the server's body limit.
 */
export const SERVER_BODY_TOO_LARGE = 'CONCORD_BODY_TOO_LARGE';

/** The code the server's pull feed answers a cursor it did not issue with (DESIGN §5). */
export const SERVER_INVALID_CURSOR = 'CONCORD_INVALID_CURSOR';

export interface ClientErrorOptions {
  readonly cause?: unknown;
  readonly status?: number;
  readonly serverCode?: string;
  readonly retryAfterMs?: number;
}

export class ConcordClientError extends Error {
  override readonly name = 'ConcordClientError';
  readonly code: ClientErrorCode;
  readonly retryable: boolean;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The server's `CONCORD_…` code, when its answer carried one. */
  readonly serverCode: string | undefined;
  /** For a push-back: the server's `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(error: ClientErrorEntry, message: string, options: ClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = error.code;
    this.retryable = error.retryable;
    this.status = options.status;
    this.serverCode = options.serverCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Any thrown value as a client error (a store's or a callback's error becomes `fallback`). */
export const asClientError = (error: unknown, fallback: ClientErrorEntry): ConcordClientError =>
  error instanceof ConcordClientError
    ? error
    : new ConcordClientError(fallback, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
