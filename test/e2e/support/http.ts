/** Minimal JSON-over-HTTP helpers for the public API (DESIGN §5). */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what} → ${status}: ${JSON.stringify(body)}`);
  }
}

const call = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  if (!response.ok) throw new HttpError(response.status, parsed, `${method} ${url}`);
  return parsed as T;
};

export const getJson = <T>(url: string): Promise<T> => call<T>('GET', url);
export const postJson = <T>(url: string, body: unknown): Promise<T> => call<T>('POST', url, body);

/** GET that answers undefined for a 404 (something not there yet). */
export const getOptional = async <T>(url: string): Promise<T | undefined> => {
  try {
    return await getJson<T>(url);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return undefined;
    throw error;
  }
};
