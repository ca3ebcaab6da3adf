import { test } from 'vitest';
import { runOn } from './support/run.js';
import { startEmbedded } from './support/stack.js';

test('the embedded all-in-one process (PGlite, in-memory bus): the scenario converges exactly', async () => {
  await runOn(startEmbedded);
});
