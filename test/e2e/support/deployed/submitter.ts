import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { SubmitResult } from '../scenario-events.js';

/** An event ingest answered for with 200: its id, aggregate and the outcome it got then. */
export interface AcceptedEvent {
  readonly id: string;
  /** `type/id`. */
  readonly aggregate: string;
  readonly outcome: Outcome;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds of a `Retry-After` header in milliseconds, within reason; undefined without one. */
const retryAfterMs = (response: Response): number | undefined => {
  const value = Number(response.headers.get('retry-after'));
  return Number.isFinite(value) && value > 0 ? Math.min(value * 1_000, 5_000) : undefined;
};

/**
 * Submits batches to `POST /v1/events` of whichever ingest instances run, as a careful client does:
 * the same batch (same ids) again after a network error, a timeout, 429 or 5xx (honouring
 * `Retry-After`), on the next instance, until `giveUpMs`. An event ingest answered for is accepted;
 * a batch that never got an answer is counted as unanswered.
 */
export class Submitter {
  readonly accepted = new Map<string, AcceptedEvent>();
  readonly rejected: SubmitResult[] = [];
  /** Ids of events whose batch never got a 200. */
  readonly unanswered: string[] = [];
  retries = 0;

  constructor(
    private readonly ingestUrls: () => readonly string[],
    private readonly giveUpMs = 120_000,
  ) {}

  async submit(events: readonly EventEnvelope[], writer = 0): Promise<SubmitResult[]> {
    const deadline = Date.now() + this.giveUpMs;
    let last = '';
    for (let attempt = 0; Date.now() < deadline; attempt += 1) {
      const urls = this.ingestUrls();
      const url = urls[(writer + attempt) % Math.max(urls.length, 1)];
      let wait = Math.min(100 * 2 ** Math.min(attempt, 4), 1_000);
      if (url !== undefined) {
        try {
          const response = await fetch(`${url}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ events }),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await response.text();
          if (response.ok)
            return this.#record(events, (JSON.parse(text) as { results: SubmitResult[] }).results);
          last = `${response.status} ${text.slice(0, 300)}`;
          if (response.status !== 429 && response.status < 500) {
            throw new Error(`ingest refused a batch: ${last}`);
          }
          wait = retryAfterMs(response) ?? wait;
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('ingest refused')) throw error;
          last = String(error);
        }
      }
      this.retries += 1;
      await sleep(wait);
    }
    this.unanswered.push(...events.map((event) => event.id));
    return events.map(() => ({ id: null, outcome: 'rejected', error: { code: `unanswered: ${last}` } }));
  }

  #record(events: readonly EventEnvelope[], results: readonly SubmitResult[]): SubmitResult[] {
    results.forEach((result, i) => {
      const event = events[i];
      if (event === undefined || result.id === null) return;
      const outcome = result.outcome === 'duplicate' ? result.originalOutcome : result.outcome;
      if (outcome === undefined || outcome === 'rejected') {
        this.rejected.push(result);
        return;
      }
      this.accepted.set(event.id, {
        id: event.id,
        aggregate: `${event.aggregateType}/${event.aggregateId}`,
        outcome,
      });
    });
    return [...results];
  }
}
