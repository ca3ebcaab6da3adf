import { test } from 'vitest';
import { runOn } from './support/run.js';
import { startEmbedded } from './support/stack.js';

test('the embedded all-in-one process (PGlite, in-memory bus): the scenario converges exactly', async () => {
  // Traced, towards a collector that refuses connections: tracing must cost dropped spans, nothing else.
  await runOn(() => startEmbedded({ otlpEndpoint: 'http://127.0.0.1:9' }));
});
