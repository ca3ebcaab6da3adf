export { ConcordError, isConcordError, isRetryable, errorCode } from './errors.js';
export type { ConcordErrorOptions } from './errors.js';
