import { CliError, ExitCode } from '../errors.js';
import { httpFailure, readJson } from '../http.js';
import type { ConcordClient } from '../http.js';
import type { CliIo } from '../io.js';
import { idOf } from './parse.js';
import type { Progress, Tally } from './progress.js';

export interface HttpPublishOptions {
  readonly io: CliIo;
  readonly client: ConcordClient;
  readonly tally: Tally;
  readonly progress: Progress;
  /** Attempts of one request refused with 429/503 before giving up. */
  readonly retries: number;
}

interface EventResult {
  readonly id: string;
  readonly outcome: string;
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), 1 s when absent, at most a minute. */
export const retryAfterMs = (header: string | null, now: number): number => {
  if (header === null || header.trim() === '') return 1000;
  const value = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now;
  return Number.isFinite(value) ? Math.min(60_000, Math.max(0, value)) : 1000;
};

const record = (tally: Tally, results: readonly EventResult[]): void => {
  for (const result of results) {
    tally.outcomes[result.outcome] = (tally.outcomes[result.outcome] ?? 0) + 1;
    if (result.outcome === 'rejected') {
      tally.rejected.push({
        id: result.id,
        ...(result.error?.code === undefined ? {} : { code: result.error.code }),
        ...(result.error?.message === undefined ? {} : { message: result.error.message }),
      });
    }
  }
};

/**
 * Posts one batch to `POST /v1/events` and records each event's outcome. A 429 or 503 (admission
 * control, a draining server) is waited out per `Retry-After` and retried; a 413 (over the body or
 * batch limit) splits the batch in two; any other refusal of the whole batch fails it (exit 1).
 */
export const postBatch = async (
  options: HttpPublishOptions,
  batch: readonly unknown[],
  offset: number,
): Promise<void> => {
  const { io, client, tally, progress } = options;
  for (let attempt = 1; ; attempt += 1) {
    const response = await client.send({
      method: 'POST',
      path: '/v1/events',
      body: { events: batch },
      signal: io.signal,
    });
    const body = await readJson(response);
    if (response.ok) {
      const results = (body as { results?: EventResult[] }).results ?? [];
      record(tally, results);
      tally.sent += batch.length;
      progress.update();
      return;
    }
    if (response.status === 413 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await postBatch(options, batch.slice(0, half), offset);
      await postBatch(options, batch.slice(half), offset + half);
      return;
    }
    if ((response.status === 429 || response.status === 503) && attempt < options.retries) {
      const wait = retryAfterMs(response.headers.get('retry-after'), io.now());
      progress.update(`server busy (${response.status}), retrying in ${Math.ceil(wait / 1000)}s`);
      await io.sleep(wait, io.signal);
      continue;
    }
    const failure = httpFailure(response, body);
    if (response.status === 413) {
      // One event over the limits: it is refused, the others go on.
      tally.rejected.push({
        id: idOf(batch[0], offset),
        ...(failure.code === undefined ? {} : { code: failure.code }),
        message: failure.message,
      });
      tally.outcomes.rejected = (tally.outcomes.rejected ?? 0) + 1;
      tally.sent += 1;
      return;
    }
    throw new CliError(
      ExitCode.failed,
      `batch of ${batch.length} event(s) from #${offset + 1} refused: ${failure.message}`,
      {
        ...(failure.code === undefined ? {} : { code: failure.code }),
        details: failure.details,
      },
    );
  }
};
