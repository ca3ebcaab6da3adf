import { readdirSync, existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Workspace imports resolve to TypeScript source through the `source` export condition,
// so tests never need a prior build.
const conditions = ['source', 'import', 'module', 'node', 'default'];

const members = ['packages', 'services'].flatMap((dir) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(`${dir}/${entry.name}/package.json`))
        .map((entry) => `${dir}/${entry.name}`)
    : [],
);

const project = (root: string, name: string, tier: 'unit' | 'int' | 'e2e') => ({
  extends: true as const,
  test: {
    name: `${name}:${tier}`,
    root,
    include: [tier === 'e2e' ? '**/*.e2e.test.ts' : `{src,test}/**/*.${tier}.test.ts`],
    ...(tier === 'unit'
      ? {}
      : { globalSetup: [new URL('./test/support/require-services.ts', import.meta.url).pathname] }),
    testTimeout: tier === 'unit' ? 5_000 : 120_000,
    hookTimeout: tier === 'unit' ? 10_000 : 120_000,
  },
});

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: {
    projects: [
      ...members.flatMap((root) => {
        const name = root.split('/')[1] ?? root;
        return [project(root, name, 'unit'), project(root, name, 'int')];
      }),
      project('test', 'system', 'e2e'),
    ],
  },
});
