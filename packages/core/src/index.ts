/**
 * Concord's core: what every layer uses (errors, logger, JSON helpers, backoff). Each area has its own
 * entry: `@concord/core/envelope`, `/versions`, `/conflict`, `/spec`, `/strategy`, `/policy`, `/decision`,
 * `/messages`. Every entry exports what other packages use, nothing more (`pnpm lint:exports`).
 */
export { ConcordError, coreErrors, defineErrors, isConcordError, isRetryable, errorCode } from './errors.js';
export { silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { backoffDelay } from './backoff.js';
export type { Backoff } from './backoff.js';
export { canonicalJson, isPlainObject } from './json.js';
export type { JsonObject, JsonValue } from './json.js';
