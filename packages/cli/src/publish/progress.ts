import type { CliIo } from '../io.js';

/** The outcome counts of a publish, and the events that were not taken. */
export interface Tally {
  readonly total: number;
  sent: number;
  readonly outcomes: Record<string, number>;
  readonly rejected: { id: string; code?: string; message?: string }[];
}

export const newTally = (total: number): Tally => ({ total, sent: 0, outcomes: {}, rejected: [] });

export interface Progress {
  /** Redraws the line, with an optional note (e.g. `waiting 2s (429)`). */
  update(note?: string): void;
  /** Clears the line before the summary is printed. */
  done(): void;
}

const seconds = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/**
 * A progress line (`sent/total (pct) · rate/s · ETA`) redrawn on stderr, only when stderr is a
 * terminal: redirected output stays free of it.
 */
export const progressLine = (io: CliIo, tally: Tally): Progress => {
  const started = io.now();
  const enabled = io.stderr.isTTY === true;
  let drawn = false;
  return {
    update(note = ''): void {
      if (!enabled) return;
      const elapsed = Math.max(1, io.now() - started);
      const rate = (tally.sent * 1000) / elapsed;
      const left = tally.total - tally.sent;
      const eta = rate > 0 ? seconds((left / rate) * 1000) : '?';
      const pct = tally.total === 0 ? 100 : Math.floor((tally.sent * 100) / tally.total);
      io.stderr.write(
        `\r\x1b[2K${tally.sent}/${tally.total} events (${pct}%) · ${Math.round(rate)}/s · ETA ${eta}${note === '' ? '' : ` · ${note}`}`,
      );
      drawn = true;
    },
    done(): void {
      if (drawn) io.stderr.write('\r\x1b[2K');
    },
  };
};
