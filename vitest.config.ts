import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Workspace imports resolve to TypeScript source through the `source` export condition,
// so tests never need a prior build.
const conditions = ['source', 'node', 'development|production'];
const requireServices = new URL('./test/support/require-services.ts', import.meta.url).pathname;
const cjsConditions = new URL('./test/support/cjs-conditions.ts', import.meta.url).pathname;

const members = ['packages', 'services'].flatMap((dir) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(`${dir}/${entry.name}/package.json`))
        .map((entry) => `${dir}/${entry.name}`)
    : [],
);

// Tiers, by file name. Chaos tests (`*.chaos.int.test.ts`) restart shared brokers or databases, so they
// run one file at a time after every other integration test has finished; end-to-end tests run last.
const CHAOS = '**/*.chaos.int.test.ts';

const unit = (root: string, name: string) => ({
  extends: true as const,
  test: {
    name: `${name}:unit`,
    root,
    include: ['{src,test}/**/*.unit.test.ts'],
    sequence: { groupOrder: 0 },
  },
});

const integration = (root: string, name: string) => ({
  extends: true as const,
  test: {
    name: `${name}:int`,
    root,
    include: ['{src,test}/**/*.int.test.ts'],
    exclude: [CHAOS],
    globalSetup: [requireServices],
    setupFiles: [cjsConditions],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { groupOrder: 0 },
  },
});

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: {
    // Chaos tests restart Postgres, which terminates every open connection with SQLSTATE 57P01
    // (admin_shutdown); a pg connection that reports it between queries surfaces as an uncaught error
    // in the test process although the test's own assertions passed. Only that code is ignored.
    onUnhandledError: (error) => (error as { code?: unknown }).code !== '57P01',
    projects: [
      ...members.flatMap((root) => {
        const name = root.split('/')[1] ?? root;
        return [unit(root, name), integration(root, name)];
      }),
      {
        extends: true,
        test: {
          name: 'support:unit',
          root: 'test',
          include: ['support/**/*.unit.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: members.map((root) => `${root}/{src,test}/${CHAOS}`),
          globalSetup: [requireServices],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          root: 'test',
          include: ['e2e/**/*.e2e.test.ts'],
          globalSetup: [requireServices],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
