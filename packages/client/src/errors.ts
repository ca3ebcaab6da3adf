/**
 * The client's errors: a stable `code`, whether retrying can help, and for a push-back how long the
 * server asked to wait. One table, listed in the package README (a test holds the two together).
 */
export const CLIENT_ERRORS = {
  /** The server could not be reached (network down, connection refused or reset). */
  CONCORD_CLIENT_OFFLINE: { retryable: true },
  /** 429 or 503: the server asks the client to come back later (`retryAfterMs` when it said when). */
  CONCORD_CLIENT_PUSHED_BACK: { retryable: true },
  /** Any other 5xx answer. */
  CONCORD_CLIENT_SERVER_ERROR: { retryable: true },
  /** 401 or 403: the token is missing, expired or lacks a scope. */
  CONCORD_CLIENT_UNAUTHORIZED: { retryable: false },
  /** Another 4xx answer: the request itself is wrong (the server's code is in `serverCode`). */
  CONCORD_CLIENT_REQUEST_REFUSED: { retryable: false },
  /** The server answered something that is not Concord's HTTP API. */
  CONCORD_CLIENT_BAD_RESPONSE: { retryable: true },
  /** The arguments of a client call are invalid (empty origin, data that is not an object, …). */
  CONCORD_CLIENT_INVALID: { retryable: false },
  /** The client was closed. */
  CONCORD_CLIENT_CLOSED: { retryable: false },
  /** The local store failed to load or write. */
  CONCORD_CLIENT_STORE: { retryable: false },
} as const satisfies Readonly<Record<string, { readonly retryable: boolean }>>;

export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

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

  constructor(code: ClientErrorCode, message: string, options: ClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = CLIENT_ERRORS[code].retryable;
    this.status = options.status;
    this.serverCode = options.serverCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Any thrown value as a client error (a store's or a callback's error becomes `fallback`). */
export const asClientError = (error: unknown, fallback: ClientErrorCode): ConcordClientError =>
  error instanceof ConcordClientError
    ? error
    : new ConcordClientError(fallback, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
