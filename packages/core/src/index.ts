export { ConcordError, isConcordError, isRetryable, errorCode } from './errors.js';
export type { ConcordErrorOptions } from './errors.js';
export { silentLogger } from './logger.js';
export type { Logger } from './logger.js';
