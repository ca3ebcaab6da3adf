import type { BusFeatures } from '../port.js';

/**
 * Kafka: per-key order (a key maps to one partition), consumer groups, durable log. A topic keeps its
 * messages whoever reads it, and a new group starts from the beginning: nothing is unroutable. A group's
 * members must subscribe alike: the leader assigns only the topics it subscribed to.
 */
export const KAFKA_FEATURES: BusFeatures = Object.freeze({
  orderedPerKey: true,
  consumerGroups: true,
  persistent: true,
  refusesUnroutable: false,
  groupsSubscribeOnce: true,
});
