export { DLQ_HEADERS, dlqTopic } from './port.js';
export type {
  IncomingMessage,
  MessageBus,
  OutgoingMessage,
  PublishEvent,
  PublishObserver,
  RetryOptions,
  Subscription,
  TopicDeclaration,
} from './port.js';
export { realTimers, sleep } from './timers.js';
export type { Timers } from './timers.js';
export { createWakeableLoop } from './wakeable-loop.js';
export type { Pause, WakeableLoop } from './wakeable-loop.js';
export type { ConsumerObserver } from './consumer/observer.js';
export { runInSpan } from './consumer/tracing.js';
export { createMemoryBus } from './memory/bus.js';
export { createRabbitMqBus } from './rabbitmq/bus.js';
export { groupQueues } from './rabbitmq/shards.js';
export { createKafkaBus } from './kafka/index.js';
export { createBus } from './brokers.js';
export type { BusConfig } from './brokers.js';
export { namespacedBus } from './namespace.js';
export { cloudEventsBus } from './cloudevents.js';
export { decodeJson, encodeJson } from './json-codec.js';
export { busErrors } from './errors.js';
export { createConsumerLagProbe } from './lag/index.js';
export type { ConsumerLagProbe, GroupTopic } from './lag/index.js';
