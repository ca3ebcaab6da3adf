/** Versions: version vectors, hybrid logical clocks, the acceptance of a writer's clock. */
export type { VersionVector } from './versions/vector.js';
export { HlcClock, formatHlc } from './versions/hlc.js';
export type { PhysicalClock } from './versions/hlc.js';
export { DEFAULT_MAX_CLOCK_SKEW_MS, acceptEvent } from './versions/accept.js';
export type { Accepted } from './versions/accept.js';
