import { clientErrors, ConcordClientError } from './errors.js';
import type { StoredEventView } from './queue.js';
import type { EventEnvelope, JsonObject, Outcome } from './types.js';

/** A bearer token, or a function answering the current one (refreshed tokens). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export type Fetch = typeof globalThis.fetch;

export interface HttpOptions {
  readonly url: string;
  readonly fetch: Fetch;
  readonly token?: TokenSource;
}

/** One result of `POST /v1/events` (DESIGN §5). */
export interface EventResultBody {
  readonly id: string | null;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly originalOutcome?: Outcome;
  readonly error?: { readonly code: string; readonly message: string };
}

/** One row of the pull feed. */
export interface FeedRow {
  readonly event: EventEnvelope;
  readonly outcome: Outcome;
  readonly version: number;
  readonly cursor: string;
}

export interface FeedPageBody {
  readonly events: readonly FeedRow[];
  readonly next: string;
}

/** `Retry-After` in milliseconds: delta seconds or an HTTP date (RFC 9110 §10.2.3). */
export const parseRetryAfter = (value: string | null, now: number): number | undefined => {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};

const serverError = async (response: Response): Promise<{ code?: string; message?: string }> => {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    return {
      ...(typeof body.error?.code === 'string' ? { code: body.error.code } : {}),
      ...(typeof body.error?.message === 'string' ? { message: body.error.message } : {}),
    };
  } catch {
    return {};
  }
};

/** An answer other than 2xx as a client error. */
export const errorOf = async (response: Response, what: string): Promise<ConcordClientError> => {
  const { status } = response;
  const server = await serverError(response);
  const options = {
    status,
    ...(server.code === undefined ? {} : { serverCode: server.code }),
  };
  const message = `${what}: HTTP ${status}${server.code === undefined ? '' : ` ${server.code}`}${
    server.message === undefined ? '' : `: ${server.message}`
  }`;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
    return new ConcordClientError(clientErrors.CLIENT_PUSHED_BACK, message, {
      ...options,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status === 401 || status === 403)
    return new ConcordClientError(clientErrors.CLIENT_UNAUTHORIZED, message, options);
  if (status >= 500) return new ConcordClientError(clientErrors.CLIENT_SERVER_ERROR, message, options);
  return new ConcordClientError(clientErrors.CLIENT_REQUEST_REFUSED, message, options);
};

/** Concord's HTTP API as the client uses it. */
export class ConcordHttp {
  readonly #base: string;

  constructor(private readonly options: HttpOptions) {
    this.#base = options.url.replace(/\/+$/, '');
  }

  /** The request headers: the bearer token when there is one. */
  async headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const { token } = this.options;
    const value = typeof token === 'function' ? await token() : token;
    return { ...extra, ...(value === undefined ? {} : { authorization: `Bearer ${value}` }) };
  }

  /** A request; a network failure is `CONCORD_CLIENT_OFFLINE`, an answer other than 2xx its error. */
  async request(path: string, init: RequestInit & { what: string }): Promise<Response> {
    let response: Response;
    try {
      response = await this.options.fetch(`${this.#base}${path}`, init);
    } catch (error) {
      if ((error as { name?: unknown }).name === 'AbortError') throw error;
      throw new ConcordClientError(clientErrors.CLIENT_OFFLINE, `${init.what}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!response.ok) throw await errorOf(response, init.what);
    return response;
  }

  async #json<T>(path: string, init: RequestInit & { what: string }): Promise<T> {
    const response = await this.request(path, init);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw new ConcordClientError(clientErrors.CLIENT_BAD_RESPONSE, `${init.what}: not JSON`, {
        cause: error,
      });
    }
  }

  async postEvents(events: readonly object[], signal?: AbortSignal): Promise<readonly EventResultBody[]> {
    const body = await this.#json<{ results?: EventResultBody[] }>('/v1/events', {
      what: 'POST /v1/events',
      method: 'POST',
      headers: await this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ events }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (!Array.isArray(body.results) || body.results.length !== events.length) {
      throw new ConcordClientError(clientErrors.CLIENT_BAD_RESPONSE, 'POST /v1/events: no result per event');
    }
    return body.results;
  }

  /** The event with its current outcome; undefined when the server has no such event. */
  async getEvent(id: string, signal?: AbortSignal): Promise<StoredEventView | undefined> {
    try {
      const body = await this.#json<StoredEventView & { details?: JsonObject }>(
        `/v1/events/${encodeURIComponent(id)}`,
        {
          what: 'GET /v1/events/:id',
          headers: await this.headers(),
          ...(signal === undefined ? {} : { signal }),
        },
      );
      return body;
    } catch (error) {
      if (error instanceof ConcordClientError && error.status === 404) return undefined;
      throw error;
    }
  }

  async feed(after: string | undefined, limit: number, signal?: AbortSignal): Promise<FeedPageBody> {
    const query = new URLSearchParams({ limit: String(limit), ...(after === undefined ? {} : { after }) });
    const body = await this.#json<FeedPageBody>(`/v1/events?${query.toString()}`, {
      what: 'GET /v1/events',
      headers: await this.headers(),
      ...(signal === undefined ? {} : { signal }),
    });
    if (!Array.isArray(body.events) || typeof body.next !== 'string') {
      throw new ConcordClientError(clientErrors.CLIENT_BAD_RESPONSE, 'GET /v1/events: not a feed page');
    }
    return body;
  }

  /** Opens `GET /v1/stream` (fetch streaming, so the bearer token goes along), resuming after `lastEventId`. */
  async stream(lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await this.request('/v1/stream', {
      what: 'GET /v1/stream',
      headers: await this.headers({
        accept: 'text/event-stream',
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      }),
      signal,
    });
    if (response.body === null) {
      throw new ConcordClientError(clientErrors.CLIENT_BAD_RESPONSE, 'GET /v1/stream: no body');
    }
    return response.body;
  }
}
