/** Specs: id patterns matched in linear time. */
export { compileIdPatterns, PATTERN_LIMITS } from './spec/pattern.js';
