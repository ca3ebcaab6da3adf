import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clientErrors } from '../src/index.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

/** The files `entry` imports, transitively (relative imports), and the bare specifiers it names. */
const graph = (entry: string): { files: Set<string>; specifiers: Set<string> } => {
  const files = new Set<string>();
  const specifiers = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(
      /(?:import|export)[^'"]*?from\s+'([^']+)'|import\s+'([^']+)'/g,
    )) {
      if (specifier === undefined) continue;
      if (!specifier.startsWith('.')) {
        specifiers.add(specifier);
        continue;
      }
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (existsSync(target)) visit(target);
    }
  };
  visit(entry);
  return { files, specifiers };
};

describe('@concord/client package', () => {
  it('the browser entry reaches no Node built-in and no other package', () => {
    const { files, specifiers } = graph(resolve(PACKAGE, 'src/index.ts'));
    expect(files.size).toBeGreaterThan(10);
    expect([...files].filter((file) => file.includes('/src/node/'))).toEqual([]);
    expect([...specifiers]).toEqual([]);
  });

  it('the node entry is where the file store and node:fs are', () => {
    const { specifiers } = graph(resolve(PACKAGE, 'src/node/index.ts'));
    expect(specifiers).toContain('node:fs/promises');
  });

  it('the README lists every error code with whether it is retryable', () => {
    const readme = readFileSync(resolve(PACKAGE, 'README.md'), 'utf8');
    for (const { code, retryable } of Object.values(clientErrors)) {
      expect(readme).toContain(`| \`${code}\` | ${retryable ? 'yes' : 'no'} |`);
    }
    const listed = [...readme.matchAll(/\| `(CONCORD_CLIENT_[A-Z_]+)` \|/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual(
      Object.values(clientErrors)
        .map((error) => error.code)
        .sort(),
    );
  });
});
