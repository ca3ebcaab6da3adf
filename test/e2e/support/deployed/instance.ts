import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually } from '../processes.js';

export const LOG_DIR = fileURLToPath(new URL('../../../../.cache/e2e-logs', import.meta.url));

/**
 * What a deployed service gets from the test runner's environment: nothing but `PATH`. Everything else
 * is named by the deployment (an allow-list), so neither infra/local.env nor a developer's shell
 * leaks a variable into a service.
 */
const baseEnv = (): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  NODE_ENV: 'production',
});

export interface InstanceOptions {
  /** `ingest-1`, `projector-2`, …: the log file's name and what reports call the instance. */
  readonly name: string;
  /** The directory `pnpm deploy` made. */
  readonly dir: string;
  readonly port: number;
  readonly env: Readonly<Record<string, string>>;
  /** Log file prefix: the test and its run. */
  readonly logPrefix: string;
}

/**
 * One instance of a deployed service: `node --import ./dist/instrumentation.js dist/main.js` in its
 * deploy directory, as its package's `start` script and services/Dockerfile run it.
 */
export class DeployedInstance {
  #child: ChildProcess | undefined;
  #exit: Promise<number | null> | undefined;
  /** Exit codes of every process this instance ran (null: killed by a signal). */
  readonly exits: (number | null)[] = [];
  readonly url: string;

  constructor(readonly options: InstanceOptions) {
    this.url = `http://127.0.0.1:${options.port}`;
  }

  get name(): string {
    return this.options.name;
  }

  get logFile(): string {
    return `${LOG_DIR}/${this.options.logPrefix}-${this.options.name}.log`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Running and, since its start, ready once: where requests can go. */
  get ready(): boolean {
    return this.running && this.#ready;
  }

  #ready = false;

  /** Starts the process and waits until `/readyz` answers 200. */
  async start(): Promise<void> {
    this.#ready = false;
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', './dist/instrumentation.js', 'dist/main.js'], {
      cwd: this.options.dir,
      env: { ...baseEnv(), ...this.options.env, PORT: String(this.options.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.#child = child;
    this.#exit = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exits.push(code);
        resolve(code);
      }),
    );
    // A process that exits while starting fails the start at once (its log says why).
    const exited = this.#exit.then((code) => {
      throw new Error(`${this.name} exited with ${code} while starting; see ${this.logFile}`);
    });
    const ready = eventually(
      async () => {
        const response = await fetch(`${this.url}/readyz`);
        return response.ok ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: `${this.name} to be ready (log: ${this.logFile})` },
    );
    exited.catch(() => undefined);
    await Promise.race([ready, exited]);
    this.#ready = true;
  }

  /** SIGTERM, and the exit code once it ended (null when a signal ended it). */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running) return null;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      return (await this.#exit) ?? null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: the instance dies mid-work. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGKILL');
    await this.#exit;
  }
}
