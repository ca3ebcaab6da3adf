/**
 * The client's hybrid logical clock, in the string form Concord's server reads (DESIGN §2, §6):
 * `<wall ms: 15 digits>-<logical: 6 digits>-<node>`, whose string order is the clock's order. Stamps
 * are strictly increasing even when the wall clock stalls or steps back; `receive` folds in a stamp
 * seen from the server, so a change made after seeing a write is stamped after it.
 */
const PATTERN = /^(\d{15})-(\d{6})-(.+)$/s;
const MAX_LOGICAL = 999_999;
/** A server stamp further ahead than this is not folded in: a broken clock must not drag ours along. */
const MAX_DRIFT_MS = 60_000;

interface Stamp {
  readonly wall: number;
  readonly logical: number;
}

export const parseStamp = (text: string): Stamp | undefined => {
  const match = PATTERN.exec(text);
  return match === null ? undefined : { wall: Number(match[1]), logical: Number(match[2]) };
};

export class ClientClock {
  #wall: number;
  #logical: number;

  constructor(
    readonly node: string,
    private readonly now: () => number,
    last?: string,
  ) {
    const stamp = last === undefined ? undefined : parseStamp(last);
    this.#wall = stamp?.wall ?? 0;
    this.#logical = stamp?.logical ?? 0;
  }

  /** A stamp for a local change. */
  stamp(): string {
    const physical = Math.floor(this.now());
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#logical = 0;
    } else {
      this.#bump(this.#logical);
    }
    return this.last;
  }

  /** Folds in a stamp the server issued (ignored when malformed or too far ahead). */
  receive(text: string): void {
    const remote = parseStamp(text);
    if (remote === undefined || remote.wall - Math.floor(this.now()) > MAX_DRIFT_MS) return;
    if (remote.wall > this.#wall) {
      this.#wall = remote.wall;
      this.#logical = remote.logical;
    } else if (remote.wall === this.#wall && remote.logical > this.#logical) {
      this.#logical = remote.logical;
    }
  }

  /** The last stamp issued (or folded in). */
  get last(): string {
    return `${String(this.#wall).padStart(15, '0')}-${String(this.#logical).padStart(6, '0')}-${this.node}`;
  }

  #bump(from: number): void {
    // Past the counter's width, borrow the next millisecond: still strictly increasing, still parseable.
    if (from >= MAX_LOGICAL) {
      this.#wall += 1;
      this.#logical = 0;
    } else {
      this.#logical = from + 1;
    }
  }
}
