import type { BusFeatures } from '../port.js';

/** Kafka: per-key order (a key maps to one partition), consumer groups, durable log. */
export const KAFKA_FEATURES: BusFeatures = Object.freeze({
  orderedPerKey: true,
  consumerGroups: true,
  persistent: true,
});
