import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LOG_DIR = join(ROOT, '.cache/client-test-logs');

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

/**
 * The all-in-one Concord (PGlite, in-memory bus, the bundled example policy) as a child process on a
 * free loopback port with its own data directory, started from source as test/e2e's `startEmbedded`
 * starts it. `stop()` and `start()` again on the same port and data: an outage the data survives.
 */
export class EmbeddedConcord {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'concord-client-'));
  #child: ChildProcess | undefined;
  #exit: Promise<number | null> | undefined;

  private constructor(
    readonly port: number,
    readonly label: string,
    readonly env: Readonly<Record<string, string>>,
  ) {}

  /** `env`: settings of the process beside the defaults (authentication, say). */
  static async start(label: string, env: Readonly<Record<string, string>> = {}): Promise<EmbeddedConcord> {
    const concord = new EmbeddedConcord(await freePort(), label, env);
    await concord.start();
    return concord;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logFile(): string {
    return join(LOG_DIR, `${this.label}.log`);
  }

  async start(): Promise<void> {
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const passed = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((name) => {
      const value = process.env[name];
      return value === undefined ? [] : [[name, value]];
    });
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'services/all-in-one/src/main.ts'],
      {
        cwd: ROOT,
        env: {
          ...Object.fromEntries(passed),
          PORT: String(this.port),
          HOST: '127.0.0.1',
          CONCORD_DATA_DIR: this.dataDir,
          LOG_LEVEL: 'warn',
          LOG_FORMAT: 'json',
          SHUTDOWN_GRACE_MS: '3000',
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.#child = child;
    this.#exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let exited = false;
    await eventually(
      async () => {
        if (exited) return true;
        if (child.exitCode !== null) return (exited = true);
        const response = await fetch(`${this.url}/readyz`);
        return response.ok ? true : undefined;
      },
      { timeoutMs: 60_000, what: `the embedded Concord (${this.label}) to be ready` },
    );
    if (exited) throw new Error(`the embedded Concord exited with ${child.exitCode}; see ${this.logFile}`);
  }

  /** SIGTERM, and the exit code. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    return this.#exit ?? null;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
