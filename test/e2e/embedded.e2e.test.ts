import { describeScenario } from './support/run.js';
import { startEmbedded } from './support/stack.js';

// Traced, towards a collector that refuses connections: tracing must cost dropped spans, nothing else.
describeScenario(
  'the embedded all-in-one process (PGlite, in-memory bus): the scenario converges exactly',
  () => startEmbedded({ otlpEndpoint: 'http://127.0.0.1:9' }),
);
