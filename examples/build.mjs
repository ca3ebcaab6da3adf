// Builds what the examples load in a browser: @concord/client's main entry (TypeScript source, no Node
// built-ins) bundled into one ES module, examples/tasks/vendor/concord-client.js. `pnpm start` and the
// browser tests run it; `node examples/build.mjs` does it by hand.
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');

await build({
  absWorkingDir: root,
  entryPoints: ['packages/client/src/index.ts'],
  outfile: 'examples/tasks/vendor/concord-client.js',
  bundle: true,
  format: 'esm',
  // A Node built-in in the browser entry fails the build here.
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
