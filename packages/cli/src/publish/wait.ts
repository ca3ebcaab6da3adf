import { CliError, ExitCode } from '../errors.js';
import { readJson } from '../http.js';
import type { ConcordClient } from '../http.js';
import type { CliIo } from '../io.js';
import type { Progress, Tally } from './progress.js';

interface StoredOutcome {
  readonly outcome: string;
  readonly details?: { readonly code?: string; readonly message?: string };
}

/**
 * After a publish to the broker: looks each event up over HTTP (`GET /v1/events/:id`) until ingest has
 * recorded its outcome, and tallies the outcomes as an HTTP publish does. Events ingest has not
 * recorded by the deadline fail the command (exit 1), named.
 */
export const waitForOutcomes = async (options: {
  readonly io: CliIo;
  readonly client: ConcordClient;
  readonly ids: readonly string[];
  readonly timeoutMs: number;
  readonly tally: Tally;
  readonly progress: Progress;
}): Promise<void> => {
  const { io, client, tally, progress } = options;
  const deadline = io.now() + options.timeoutMs;
  let pending = [...new Set(options.ids)];
  let seen = 0;
  while (pending.length > 0) {
    const left: string[] = [];
    for (const id of pending) {
      const response = await client.send({
        method: 'GET',
        path: `/v1/events/${encodeURIComponent(id)}`,
        signal: io.signal,
      });
      const body = await readJson(response);
      if (response.status === 404) {
        left.push(id);
        continue;
      }
      if (!response.ok) throw new CliError(ExitCode.failed, `looking up ${id}: HTTP ${response.status}`);
      const stored = body as StoredOutcome;
      tally.outcomes[stored.outcome] = (tally.outcomes[stored.outcome] ?? 0) + 1;
      if (stored.outcome === 'rejected') {
        tally.rejected.push({
          id,
          ...(stored.details?.code === undefined ? {} : { code: stored.details.code }),
          ...(stored.details?.message === undefined ? {} : { message: stored.details.message }),
        });
      }
      seen += 1;
    }
    pending = left;
    progress.update(`outcomes ${seen}/${seen + pending.length}`);
    if (pending.length === 0) break;
    if (io.now() > deadline) {
      throw new CliError(
        ExitCode.failed,
        `no outcome within ${Math.round(options.timeoutMs / 1000)}s for ${pending.length} event(s): ${pending.slice(0, 10).join(', ')}${pending.length > 10 ? ', …' : ''}`,
      );
    }
    await io.sleep(250, io.signal);
  }
};
