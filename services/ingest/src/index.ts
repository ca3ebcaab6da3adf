export { createIngestModule } from './module.js';
export type { GroupCommitOptions, IngestDeps, IngestOptions } from './module.js';
export { DEFAULT_MAX_BODY_BYTES, ingestEnvSchema, loadIngestConfig } from './config.js';
export type { IngestConfig } from './config.js';
export type { EventResult } from './results.js';
export type { EventError, IntakeProblem } from './intake.js';
