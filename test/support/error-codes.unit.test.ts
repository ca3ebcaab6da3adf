import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workspaceSources } from './import-cycles.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CODE = /'(CONCORD_[A-Z0-9_]+)'/g;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });

/** Every stable error code the source defines or throws, as a string literal. */
const codesInSource = (): Set<string> => {
  const codes = new Set<string>();
  for (const file of workspaceSources(ROOT).flatMap(sourceFiles)) {
    for (const match of readFileSync(file, 'utf8').matchAll(CODE)) codes.add(match[1] as string);
  }
  return codes;
};

/** The codes docs/errors.md lists: the first cell of each table row. */
const codesInDocs = (): Set<string> => {
  const text = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  return new Set([...text.matchAll(/^\| `(CONCORD_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string));
};

describe('error codes (docs/errors.md)', () => {
  it('documents every code the code uses, and no code the code does not', () => {
    const source = codesInSource();
    const docs = codesInDocs();
    expect([...source].filter((code) => !docs.has(code)).sort(), 'codes missing from docs/errors.md').toEqual(
      [],
    );
    expect([...docs].filter((code) => !source.has(code)).sort(), 'documented codes nothing uses').toEqual([]);
  });
});
