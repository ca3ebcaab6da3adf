import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_SECTIONS, ERRORS_DOC, renderErrorsDoc } from './error-docs.js';
import { workspaceSources } from './import-cycles.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LITERAL = /'(CONCORD_[A-Z0-9_]+)'/g;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'testing' ? [] : sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });

/** The workspace's source, tests and the contract suites (`src/testing`) aside. */
const sources = (): { file: string; text: string }[] =>
  workspaceSources(ROOT)
    .flatMap(sourceFiles)
    .map((path) => ({ file: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

const TABLE_FILES = new Set(ERROR_SECTIONS.map((section) => section.file));
const tabled = new Map(
  ERROR_SECTIONS.flatMap((section) =>
    Object.values(section.errors).map((error) => [error.code, section] as const),
  ),
);

describe('error codes (docs/errors.md)', () => {
  it('docs/errors.md is what the tables give (node --import tsx test/support/error-docs.ts writes it)', () => {
    expect(readFileSync(ERRORS_DOC, 'utf8')).toBe(renderErrorsDoc());
  });

  it('lists each code in one table only, as CONCORD_ and its key', () => {
    const seen = new Map<string, string>();
    for (const section of ERROR_SECTIONS) {
      for (const [key, error] of Object.entries(section.errors)) {
        expect(error.code, `${section.table}.${key}`).toBe(`CONCORD_${key}`);
        expect(seen.get(error.code), `${error.code} is in ${seen.get(error.code)} too`).toBeUndefined();
        seen.set(error.code, section.table);
      }
    }
  });

  it('writes no code as a literal outside a table, and each such code is a table entry', () => {
    const outside: string[] = [];
    const unknown: string[] = [];
    for (const { file, text } of sources()) {
      for (const match of text.matchAll(LITERAL)) {
        const code = match[1] as string;
        if (!TABLE_FILES.has(file) && !file.endsWith('/src/errors.ts')) outside.push(`${file}: ${code}`);
        if (!tabled.has(code)) unknown.push(`${file}: ${code}`);
      }
    }
    expect(outside, 'use the entry of the table instead').toEqual([]);
    expect(unknown, 'codes in no table (add them to their package’s table)').toEqual([]);
  });

  it('lists no code that nothing uses', () => {
    const text = sources()
      .map((source) => source.text)
      .join('\n');
    const unused = ERROR_SECTIONS.flatMap((section) =>
      Object.keys(section.errors)
        .filter((key) => !new RegExp(`\\b${section.table}\\.${key}\\b`).test(text))
        .map((key) => `${section.table}.${key}`),
    );
    expect(unused).toEqual([]);
  });
});
