import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { baseMigrations } from './files.js';
import type { MigrationSource } from './files.js';

const SCOPE = '@concord/';

const isDir = (path: string): Promise<boolean> =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

const children = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
    .map((entry) => join(dir, entry.name));

/** `{ owner, dir }` when `pkg` is a Concord package (other than this one) with a `migrations/` folder. */
const sourceOf = async (pkg: string): Promise<MigrationSource | undefined> => {
  const text = await readFile(join(pkg, 'package.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const { name } = JSON.parse(text) as { name?: unknown };
  if (typeof name !== 'string' || !name.startsWith(SCOPE) || name === `${SCOPE}outbox`) return undefined;
  const dir = join(pkg, 'migrations');
  return (await isDir(dir)) ? { owner: name.slice(SCOPE.length), dir } : undefined;
};

/**
 * Every migration set reachable from `from`: the outbox's and the event store's first, then, by owner
 * name, each `@concord/<owner>` package with a `migrations/` folder — the package `from` is in, the
 * `@concord` packages installed beside it (`node_modules/@concord`, as in `pnpm deploy` output), and,
 * in a checkout, every workspace package (`services/*`, `packages/*`). Packages cannot import services,
 * so this is how the `concord-migrate` CLI and the test databases find the services' tables.
 */
export const findMigrationSources = async (from: string): Promise<MigrationSource[]> => {
  const candidates: string[] = [];
  for (let dir = from, nearest = true; ; dir = dirname(dir)) {
    if (nearest && (await exists(join(dir, 'package.json')))) {
      nearest = false;
      candidates.push(dir, ...(await children(join(dir, 'node_modules', '@concord'))));
    }
    if (await exists(join(dir, 'pnpm-workspace.yaml'))) {
      candidates.push(...(await children(join(dir, 'services'))), ...(await children(join(dir, 'packages'))));
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const found = new Map<string, MigrationSource>();
  const seen = new Set<string>();
  for (const candidate of candidates) {
    const real = await realpath(candidate).catch(() => candidate);
    if (seen.has(real)) continue;
    seen.add(real);
    const source = await sourceOf(real);
    if (source !== undefined && !found.has(source.owner)) found.set(source.owner, source);
  }
  const owned = [...found.values()].sort((a, b) => a.owner.localeCompare(b.owner));
  return [...baseMigrations, ...owned];
};
