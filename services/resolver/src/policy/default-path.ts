import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLE = join('policies', 'example.yaml');

/** The folder of the nearest package.json named `name` at or above `start`. */
const packageRoot = (start: string, name: string): string | undefined => {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (parsed.name === name) return dir;
    }
    if (dirname(dir) === dir) return undefined;
  }
};

/**
 * Path of the bundled example policy: `policies/example.yaml` of the @concord/core package, or the
 * copy the resolver's build puts in `dist/policies/` (a deployed @concord/core ships `dist` only).
 */
export const defaultPolicyPath = (): string => {
  const candidates: string[] = [];
  try {
    const core = packageRoot(dirname(fileURLToPath(import.meta.resolve('@concord/core'))), '@concord/core');
    if (core !== undefined) candidates.push(join(core, EXAMPLE));
  } catch {
    // not resolvable: fall back to the copy below
  }
  // dist/policy/default-path.js → dist/policies; src/policy → ../dist/policies (after a build).
  const here = dirname(dirname(fileURLToPath(import.meta.url)));
  candidates.push(join(here, EXAMPLE), join(here, '..', 'dist', EXAMPLE));
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0] ?? EXAMPLE;
};
