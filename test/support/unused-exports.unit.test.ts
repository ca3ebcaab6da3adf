import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { unusedExports } from './unused-exports.js';

const scratch = mkdtempSync(join(tmpdir(), 'concord-exports-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const workspace = (files: Record<string, string>): string => {
  const root = mkdtempSync(join(scratch, 'ws-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
};

const manifest = (name: string, exports: Record<string, string>) =>
  JSON.stringify({
    name,
    exports: Object.fromEntries(Object.entries(exports).map(([path, source]) => [path, { source }])),
  });

describe('unused exports', () => {
  it("lists what an entry exports that no other package imports; the package's own tests do not count", () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a', { '.': './src/index.ts', './more': './src/more.ts' }),
      'packages/a/src/index.ts':
        "export { used, onlyTested } from './impl.js';\nexport type { Shape } from './impl.js';\nexport const local = 1;\n",
      'packages/a/src/more.ts':
        "/** @public Named by Shape. */\nexport type { Part } from './impl.js';\nexport const extra = 2;\n",
      'packages/a/test/a.test.ts': "import { onlyTested, extra } from '@x/a';\n",
      'services/b/package.json': manifest('@x/b', {}),
      'services/b/src/main.ts': "import { used } from '@x/a';\nimport type { Shape } from '@x/a';\n",
      'test/e2e.ts': "const { extra } = await import('@x/a/more');\n",
    });
    expect(unusedExports(root, new Map())).toEqual(
      new Map([['packages/a/src/index.ts', ['onlyTested', 'local']]]),
    );
    expect(unusedExports(root, new Map([['@x/a', 'for users']]))).toEqual(new Map());
  });

  it('counts a namespace import as using everything', () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a', { '.': './src/index.ts' }),
      'packages/a/src/index.ts': 'export const one = 1;\nexport function two() {}\n',
      'packages/b/package.json': manifest('@x/b', {}),
      'packages/b/src/b.ts': "import * as a from '@x/a';\nexport const b = a;\n",
    });
    expect(unusedExports(root, new Map())).toEqual(new Map());
  });

  it('refuses export * in an entry', () => {
    const root = workspace({
      'packages/a/package.json': manifest('@x/a', { '.': './src/index.ts' }),
      'packages/a/src/index.ts': "export * from './impl.js';\n",
    });
    expect(() => unusedExports(root, new Map())).toThrow(/export \*/);
  });

  it('finds none in the workspace', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    expect(unusedExports(root)).toEqual(new Map());
  }, 60_000);
});
