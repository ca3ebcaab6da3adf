import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/**
 * The checkout whose services are built and deployed: this one, or `CONCORD_E2E_SOURCE` (another
 * checkout with its dependencies installed, e.g. `git archive <commit>` unpacked and
 * `pnpm install --offline --frozen-lockfile`, to see how an earlier commit fares).
 */
const SOURCE = process.env['CONCORD_E2E_SOURCE'] ?? fileURLToPath(new URL('../../../../', import.meta.url));

export const SERVICES = ['ingest', 'resolver', 'projector', 'notifier'] as const;
export type Service = (typeof SERVICES)[number];

/** The four services as a user deploys them: one self-contained directory each. */
export interface Deployed {
  /** The directory `pnpm deploy` made for a service: `dist/`, production `node_modules/`. */
  readonly dirs: Readonly<Record<Service, string>>;
  readonly buildMs: number;
  /** The checkout they were built from. */
  readonly source: string;
  remove(): void;
}

const pnpm = async (args: readonly string[]): Promise<void> => {
  try {
    await run('pnpm', args, { cwd: SOURCE, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`pnpm ${args.join(' ')} failed:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`, {
      cause: error,
    });
  }
};

/**
 * `pnpm deploy --legacy` hard-links the workspace packages' files into the deploy directory, so a
 * `tsc -b` in the checkout afterwards (another build, an editor) would change the deployed code under
 * the running services. Each `@concord/*` package is copied over itself to make the deployment its own.
 */
const detachWorkspacePackages = (dir: string): void => {
  const store = join(dir, 'node_modules/.pnpm');
  for (const name of readdirSync(store).filter((entry) => entry.startsWith('@concord+'))) {
    const path = join(store, name);
    cpSync(path, `${path}.copy`, { recursive: true, verbatimSymlinks: true });
    rmSync(path, { recursive: true, force: true });
    renameSync(`${path}.copy`, path);
  }
};

/**
 * Builds the services and what they depend on (`build`: `tsc -b`, and the resolver's bundled policy),
 * then `pnpm --filter @concord/<service> deploy --prod --legacy <dir>` for each, as README "Deploy the
 * services separately" and services/Dockerfile do. `deploy` copies each workspace package's `files`
 * (its `dist/`), so the build has to come first. Once per test file: both brokers use the same build.
 */
export const deployServices = async (): Promise<Deployed> => {
  const began = Date.now();
  await pnpm(['--filter', `./services/{${SERVICES.join(',')}}...`, 'run', 'build']);
  const base = mkdtempSync(join(tmpdir(), 'concord-deployed-'));
  try {
    const dirs = Object.fromEntries(SERVICES.map((service) => [service, join(base, service)])) as Record<
      Service,
      string
    >;
    // One at a time: concurrent deploys share pnpm's store and this machine's two cores.
    for (const service of SERVICES) {
      await pnpm([
        '--filter',
        `@concord/${service}`,
        'deploy',
        '--prod',
        '--legacy',
        '--prefer-offline',
        dirs[service],
      ]);
      detachWorkspacePackages(dirs[service]);
      if (!existsSync(join(dirs[service], 'dist/main.js'))) {
        throw new Error(`pnpm deploy of ${service} made no dist/main.js in ${dirs[service]}`);
      }
    }
    return {
      dirs,
      buildMs: Date.now() - began,
      source: SOURCE,
      remove: () => rmSync(base, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(base, { recursive: true, force: true });
    throw error;
  }
};
