import { coreErrors } from '../errors.js';
import type { EventEnvelope } from '../envelope/types.js';
import { formatHlc, tryParseHlc, type HlcClock } from './hlc.js';

/** Default largest offset a writer's HLC may be ahead of ingest's clock: 5 minutes. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** Options for `acceptEvent`. */
export interface AcceptEventOptions {
  /** Ingest's clock: one per process, fed by the injected physical clock. */
  readonly clock: HlcClock;
  /** How far (ms) a writer's `hlc` may be ahead of the stamp ingest issues. */
  readonly maxClockSkewMs: number;
}

/** An accepted event stamped with ingest's HLC, or the reason it is refused. */
export type Accepted =
  | { readonly ok: true; readonly event: EventEnvelope }
  | {
      readonly ok: false;
      readonly code: typeof coreErrors.EVENT_CLOCK_AHEAD.code;
      readonly reason: string;
    };

/**
 * Ingest's time for an event it accepts (DESIGN §6): a fresh stamp of its HLC as `serverHlc`, beside
 * the writer's own `hlc`, which it leaves as sent. A writer's `hlc` further ahead of that stamp than
 * `maxClockSkewMs` is refused (`CONCORD_EVENT_CLOCK_AHEAD`): one clock set in the future would otherwise
 * win every later last-write-wins comparison on its aggregate. The writer's stamp is not folded into
 * ingest's clock, so no writer moves the time every other event is stamped with.
 */
export const acceptEvent = (event: EventEnvelope, options: AcceptEventOptions): Accepted => {
  const stamp = options.clock.now();
  const own = event.hlc === undefined ? undefined : tryParseHlc(event.hlc);
  if (own !== undefined && own.wall - stamp.wall > options.maxClockSkewMs) {
    return {
      ok: false,
      code: coreErrors.EVENT_CLOCK_AHEAD.code,
      reason:
        `the event's hlc is ${own.wall - stamp.wall} ms ahead of the server's clock ` +
        `(${formatHlc(stamp)}); at most ${options.maxClockSkewMs} ms is accepted`,
    };
  }
  return { ok: true, event: { ...event, serverHlc: formatHlc(stamp) } };
};
