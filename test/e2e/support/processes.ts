import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LOG_DIR = `${ROOT}.cache/e2e-logs`;

/**
 * The runner's variables a child inherits: only what a process needs to run at all. Everything a
 * service reads (its addresses, broker, limits, telemetry) comes from its test, never from the
 * runner's environment (infra/local.env puts the shared dependencies' addresses there).
 */
const PASSED_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'] as const;

const inheritedEnv = (): Record<string, string> =>
  Object.fromEntries(
    PASSED_THROUGH.flatMap((name) => {
      const value = process.env[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );

/** A free loopback port, chosen by the kernel. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `; last error: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ServiceProcessOptions {
  /** Directory under services/ (ingest, resolver, projector, notifier, all-in-one). */
  readonly service: string;
  readonly env: Record<string, string>;
  readonly port: number;
  /** Name for the log file. */
  readonly label?: string;
  /**
   * Load the service's `src/instrumentation.ts` with `--import` before the app, as services/Dockerfile does
   * with the built file; tracing then follows the `OTEL_*` variables in `env`.
   */
  readonly instrument?: boolean;
}

/**
 * One service as its own OS process, started from source exactly as its composition root runs in
 * production (main.ts), talking to the test only through HTTP and the broker.
 */
export class ServiceProcess {
  #child: ChildProcess | undefined;
  #exit: Promise<number | null> | undefined;
  readonly url: string;

  constructor(readonly options: ServiceProcessOptions) {
    this.url = `http://127.0.0.1:${options.port}`;
  }

  /** The running process's id (undefined before start). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Where the process's stdout and stderr (its JSON log lines) go. */
  get logFile(): string {
    return `${LOG_DIR}/${this.options.label ?? this.options.service}.log`;
  }

  async start(): Promise<void> {
    mkdirSync(LOG_DIR, { recursive: true });
    const label = this.options.label ?? this.options.service;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        ...(this.options.instrument === true
          ? ['--import', `./services/${this.options.service}/src/instrumentation.ts`]
          : []),
        `services/${this.options.service}/src/main.ts`,
      ],
      {
        cwd: ROOT,
        env: { ...inheritedEnv(), ...this.options.env, PORT: String(this.options.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.#child = child;
    this.#exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${label} exited with ${child.exitCode}; see ${LOG_DIR}/${label}.log`);
        const response = await fetch(`${this.url}/readyz`);
        return response.ok ? true : undefined;
      },
      { timeoutMs: 60_000, what: `${label} to be ready` },
    );
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    return this.#exit ?? null;
  }

  /** SIGKILL: the process dies mid-work, as in a crash. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await this.#exit;
  }
}
