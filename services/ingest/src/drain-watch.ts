/** One downstream group's messages of one topic not consumed yet (as `@concord/bus`'s lag probes read it). */
export interface GroupLag {
  readonly group: string;
  readonly topic: string;
  readonly messages: number;
}

/** What {@link DrainWatch.observe} makes of one reading of the downstream groups' lag. */
export interface DrainReading {
  /** The largest lag of a group that admission counts (0 when none is counted). */
  readonly lag: number;
  /** Groups not counted, as `group topic` with the lag they had when they stopped draining. */
  readonly stalled: readonly string[];
  /** Groups that stopped draining at this reading. */
  readonly newlyStalled: readonly GroupLag[];
  /** Stalled groups counted again from this reading on: their lag fell. */
  readonly draining: readonly GroupLag[];
}

interface GroupState {
  last: number;
  /** When the lag last fell (or when ingest last admitted: only a refusal is a test of draining). */
  progressAt: number;
  stalled: boolean;
}

/**
 * Tells which downstream groups' lag admission control can count: only a lag that drains when ingest
 * refuses. While ingest refuses, nothing enters the pipeline but what the outboxes still hold, so the
 * lag of a group that consumes falls, sample after sample. A lag that has not fallen once in `stallMs`
 * of refusing cannot be drained by refusing: nobody consumes it (a stopped service, a group with no
 * member), a record at the head of a Kafka partition holds the group's committed offset (its key
 * retrying) while the records behind it are handled, or the probe cannot read it (the last reading
 * repeats). Such a group is not counted — ingest would otherwise stay locked out for good — until its
 * lag falls again, which only consuming does (log ends and queue depths only grow otherwise); then it
 * is counted again and pushes back while over the bound.
 */
export class DrainWatch {
  readonly #stallMs: number;
  readonly #now: () => number;
  readonly #groups = new Map<string, GroupState>();
  #last: readonly GroupLag[] = [];

  constructor(options: { readonly stallMs: number; readonly now: () => number }) {
    this.#stallMs = options.stallMs;
    this.#now = options.now;
  }

  /**
   * One reading of every group's lag; `undefined` when the probe failed (the last reading repeats).
   * `refusing`: whether ingest refused work since the previous reading.
   */
  observe(lags: readonly GroupLag[] | undefined, refusing: boolean): DrainReading {
    const now = this.#now();
    const readings = lags ?? this.#last;
    this.#last = readings;
    let lag = 0;
    const stalled: string[] = [];
    const newlyStalled: GroupLag[] = [];
    const draining: GroupLag[] = [];
    for (const reading of readings) {
      const key = `${reading.group} ${reading.topic}`;
      const { messages } = reading;
      let state = this.#groups.get(key);
      if (state === undefined) {
        state = { last: messages, progressAt: now, stalled: false };
        this.#groups.set(key, state);
      }
      const fell = messages < state.last;
      state.last = messages;
      if (fell || !refusing || messages === 0) state.progressAt = now;
      if (state.stalled && fell) {
        state.stalled = false;
        draining.push(reading);
      } else if (!state.stalled && now - state.progressAt >= this.#stallMs) {
        state.stalled = true;
        newlyStalled.push(reading);
      }
      if (state.stalled) stalled.push(key);
      else lag = Math.max(lag, messages);
    }
    return { lag, stalled, newlyStalled, draining };
  }
}
