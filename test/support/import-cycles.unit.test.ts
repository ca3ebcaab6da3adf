import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findCycles, importGraph, workspaceSources } from './import-cycles.js';

const scratch = mkdtempSync(join(tmpdir(), 'concord-cycles-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const tree = (files: Record<string, string>): string => {
  const root = mkdtempSync(join(scratch, 'src-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
};

describe('import cycles', () => {
  it('finds a cycle made only of type imports', () => {
    const root = tree({
      'a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'b.ts': "import type { A } from './a.js';\nexport interface B { a?: A }\n",
      'c.ts': "import { x } from './d/index.js';\nexport const c = x;\n",
      'd/index.ts': 'export const x = 1;\n',
    });
    expect(findCycles(importGraph([root]))).toEqual([[join(root, 'a.ts'), join(root, 'b.ts')]]);
  });

  it('finds longer cycles and directory imports, and ignores other packages', () => {
    const root = tree({
      'a.ts': "import { b } from './b.js';\nimport '@concord/core';\nexport const a = b;\n",
      'b.ts': "export { c as b } from './dir';\n",
      'dir/index.ts': "import { a } from '../a.js';\nexport const c = a;\n",
    });
    expect(findCycles(importGraph([root]))).toEqual([
      [join(root, 'a.ts'), join(root, 'b.ts'), join(root, 'dir/index.ts')],
    ]);
  });

  it('finds none in the workspace, type-only imports included', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    expect(findCycles(importGraph(workspaceSources(root)))).toEqual([]);
  });
});
