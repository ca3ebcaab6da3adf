import { ConcordError, coreErrors } from '../errors.js';

/**
 * A hybrid logical clock timestamp: physical milliseconds, a logical counter for events within the same
 * millisecond (or while the physical clock lags), and the node that issued it (a deterministic tie-break).
 */
export interface Hlc {
  readonly wall: number;
  readonly logical: number;
  readonly node: string;
}

/** The physical clock an HLC reads; inject a real one at the edge and a fake one in tests. */
export interface PhysicalClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

const WALL_DIGITS = 15;
const LOGICAL_DIGITS = 6;
/** Largest logical counter the string form can carry. */
export const MAX_HLC_LOGICAL = 10 ** LOGICAL_DIGITS - 1;
const MAX_WALL = 10 ** WALL_DIGITS - 1;
const HLC_PATTERN = /^(\d{15})-(\d{6})-(.+)$/s;

/**
 * String form `<wall:15 digits>-<logical:6 digits>-<node>`. Fixed-width digits make plain string order
 * equal `compareHlc` order, so stamps sort lexicographically (in databases too).
 */
export const formatHlc = (h: Hlc): string =>
  `${String(h.wall).padStart(WALL_DIGITS, '0')}-${String(h.logical).padStart(LOGICAL_DIGITS, '0')}-${h.node}`;

/** Parse a stamp made by `formatHlc`, or return undefined. */
export const tryParseHlc = (text: string): Hlc | undefined => {
  const match = HLC_PATTERN.exec(text);
  if (!match) return undefined;
  return { wall: Number(match[1]), logical: Number(match[2]), node: match[3] ?? '' };
};

/** Parse a stamp made by `formatHlc`; throws `CONCORD_HLC_INVALID`. */
export const parseHlc = (text: string): Hlc => {
  const parsed = tryParseHlc(text);
  if (!parsed) throw new ConcordError(coreErrors.HLC_INVALID, `not an HLC stamp: "${text.slice(0, 64)}"`);
  return parsed;
};

/** True when `text` is a well-formed stamp. */
export const isHlcString = (text: string): boolean => HLC_PATTERN.test(text);

/** Total order: wall, then logical, then node id. */
export const compareHlc = (a: Hlc, b: Hlc): -1 | 0 | 1 => {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
};

/** Same order as `compareHlc`, on string forms, without parsing. */
export const compareHlcStrings = (a: string, b: string): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/** Options for `HlcClock`. */
export interface HlcClockOptions {
  /** This node's id; must not be empty. */
  readonly node: string;
  readonly clock: PhysicalClock;
  /** A remote stamp further ahead of the physical clock than this is refused (default 60 000 ms). */
  readonly maxDriftMs?: number;
  /** Resume after a restart from the last stamp issued. */
  readonly last?: Hlc;
}

/**
 * A hybrid logical clock (Kulkarni et al.). Stamps it issues are strictly increasing even when the
 * physical clock stalls or goes backwards; `receive` folds in remote stamps so causally later events
 * always get later stamps.
 */
export class HlcClock {
  readonly node: string;
  readonly maxDriftMs: number;
  private readonly clock: PhysicalClock;
  private wall: number;
  private logical: number;

  constructor(options: HlcClockOptions) {
    if (options.node.length === 0)
      throw new ConcordError(coreErrors.HLC_INVALID, 'HLC node id must not be empty');
    this.node = options.node;
    this.clock = options.clock;
    this.maxDriftMs = options.maxDriftMs ?? 60_000;
    this.wall = options.last?.wall ?? 0;
    this.logical = options.last?.logical ?? 0;
  }

  /** The last stamp issued (or the initial one). */
  get last(): Hlc {
    return { wall: this.wall, logical: this.logical, node: this.node };
  }

  /** Issue a stamp for a local event. */
  now(): Hlc {
    const physical = this.readPhysical();
    if (physical > this.wall) {
      this.wall = physical;
      this.logical = 0;
    } else {
      this.bumpLogical(this.logical);
    }
    return this.last;
  }

  /**
   * Fold in a stamp received from another node and issue a stamp later than both. Throws
   * `CONCORD_HLC_DRIFT` (not retryable) when the remote wall time is more than `maxDriftMs` ahead of the
   * physical clock: a node with a broken clock must not drag everyone's clocks into the future.
   */
  receive(remote: Hlc): Hlc {
    const physical = this.readPhysical();
    if (remote.wall - physical > this.maxDriftMs) {
      throw new ConcordError(
        coreErrors.HLC_DRIFT,
        `remote HLC from "${remote.node}" is ${remote.wall - physical} ms ahead (max ${this.maxDriftMs} ms)`,
        { details: { remote, physical } },
      );
    }
    const wall = Math.max(this.wall, remote.wall, physical);
    if (wall === this.wall && wall === remote.wall) this.bumpLogical(Math.max(this.logical, remote.logical));
    else if (wall === this.wall) this.bumpLogical(this.logical);
    else if (wall === remote.wall) this.bumpLogical(remote.logical);
    else this.logical = 0;
    this.wall = wall;
    return this.last;
  }

  private readPhysical(): number {
    const physical = Math.floor(this.clock.now());
    if (!Number.isSafeInteger(physical) || physical < 0 || physical > MAX_WALL) {
      throw new ConcordError(coreErrors.HLC_INVALID, `physical clock returned ${physical}`);
    }
    return physical;
  }

  private bumpLogical(from: number): void {
    if (from >= MAX_HLC_LOGICAL) {
      throw new ConcordError(coreErrors.HLC_OVERFLOW, `HLC logical counter exhausted at wall ${this.wall}`, {
        retryable: true,
      });
    }
    this.logical = from + 1;
  }
}
