import { CliError, ExitCode, cliErrors } from './errors.js';

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** A string is sent as is (with `contentType`); anything else as JSON. */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** Concord's HTTP API at one base URL, with the bearer token when one is configured. */
export interface ConcordClient {
  readonly baseUrl: string;
  /** The raw answer, whatever its status; throws only when the server cannot be reached (exit 3). */
  send(request: HttpRequest): Promise<Response>;
  /** The JSON body of a 2xx answer; any other status throws the server's error (exit 1). */
  json<T>(request: HttpRequest): Promise<T>;
}

export interface ClientOptions {
  readonly url: string;
  readonly token?: string | undefined;
  readonly fetch?: typeof fetch;
}

/** The `{ error: { code, message, details } }` body of a Concord error answer, when it is one. */
export interface ServerError {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

export const serverErrorOf = (body: unknown): ServerError | undefined => {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, details } = error as Record<string, unknown>;
  if (typeof code !== 'string') return undefined;
  return { code, message: typeof message === 'string' ? message : code, details };
};

/** Reads a body as JSON, or undefined when it is not JSON. */
export const readJson = async (response: Response): Promise<unknown> => {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text === '' ? undefined : text;
  }
};

/** The failure a non-2xx answer ends a command with: exit 1 with the server's code and message. */
export const httpFailure = (response: Response, body: unknown): CliError => {
  const error = serverErrorOf(body);
  const what = error === undefined ? (typeof body === 'string' ? body : response.statusText) : error.message;
  const code = error?.code;
  return new CliError(ExitCode.failed, `${response.status}${code === undefined ? '' : ` ${code}`}: ${what}`, {
    ...(code === undefined ? {} : { code }),
    details: error?.details,
  });
};

const unreachable = (url: string, error: unknown): CliError => {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const why =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof cause?.message === 'string'
        ? cause.message
        : (error as Error).message;
  return new CliError(ExitCode.unreachable, `cannot reach Concord at ${url} (${why})`, {
    code: cliErrors.CLI_UNREACHABLE.code,
    cause: error,
  });
};

export const createClient = (options: ClientOptions): ConcordClient => {
  const baseUrl = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const urlOf = (request: HttpRequest): string => {
    const url = new URL(`${baseUrl}${request.path}`);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value === undefined) continue;
      for (const one of typeof value === 'string' ? [value] : value) url.searchParams.append(name, one);
    }
    return url.toString();
  };
  const send = async (request: HttpRequest): Promise<Response> => {
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    if (options.token !== undefined && options.token !== '')
      headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      headers['content-type'] = request.contentType ?? 'application/json';
    }
    try {
      return await doFetch(urlOf(request), {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
    } catch (error) {
      if (request.signal?.aborted === true) throw error;
      throw unreachable(baseUrl, error);
    }
  };
  return {
    baseUrl,
    send,
    async json<T>(request: HttpRequest): Promise<T> {
      const response = await send(request);
      const body = await readJson(response);
      if (!response.ok) throw httpFailure(response, body);
      return body as T;
    },
  };
};
