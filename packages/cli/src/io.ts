import type { Readable, Writable } from 'node:stream';

/** A writable stream that may be a terminal (progress lines are drawn only there). */
export type Output = Writable & { readonly isTTY?: boolean };

/**
 * What a command touches outside itself, injected so commands are tested without a process of their
 * own: its streams, its environment and its clock. Only `main.ts` passes the real process's.
 */
export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: Readable & { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborted on SIGINT/SIGTERM: long-running commands (tail, publish) stop and report. */
  readonly signal: AbortSignal;
}

export const writeLine = (out: Writable, line: string): void => {
  out.write(`${line}\n`);
};

/** One JSON value on one line, for scripts. */
export const writeJson = (out: Writable, value: unknown): void => {
  out.write(`${JSON.stringify(value)}\n`);
};

/** A JSON value indented for people. */
export const writePretty = (out: Writable, value: unknown): void => {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
};
