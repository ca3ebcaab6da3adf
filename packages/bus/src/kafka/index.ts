export { createKafkaBus } from './bus.js';
export { KAFKA_FEATURES } from './features.js';
export type { KafkaBusOptions } from './options.js';
