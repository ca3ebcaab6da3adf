export { DLQ_HEADERS, dlqTopic } from './port.js';
export type {
  BusError,
  BusFeatures,
  IncomingMessage,
  MessageBus,
  MessageHandler,
  MessageHeaders,
  OutgoingMessage,
  PublishEvent,
  PublishObserver,
  RetryOptions,
  SubscribeOptions,
  Subscription,
  TopicDeclaration,
} from './port.js';
export {
  BUS_ERROR_CODES,
  busClosedError,
  busUnavailableError,
  busUnroutableError,
  invalidOptionsError,
} from './errors.js';
export type { BusErrorCode } from './errors.js';
export {
  assertGroup,
  assertPublishable,
  assertTopic,
  DEFAULT_MAX_MESSAGE_BYTES,
  GROUP_PATTERN,
  messageSize,
  TOPIC_PATTERN,
} from './validation.js';
export { realTimers, settlesWithin, sleep } from './timers.js';
export type { Timers } from './timers.js';
export { createWakeableLoop } from './wakeable-loop.js';
export type { Pause, WakeableLoop, WakeableLoopOptions } from './wakeable-loop.js';
export { KeyedDispatcher } from './consumer/keyed-dispatcher.js';
export type { KeyedTask } from './consumer/keyed-dispatcher.js';
export { deadLetterMessage } from './consumer/dead-letter.js';
export type { DeadLetterCause } from './consumer/dead-letter.js';
export { ConsumerPipeline, DEFAULT_CONCURRENCY } from './consumer/pipeline.js';
export type { ConsumerPipelineOptions, Delivery, DeliveryOutcome } from './consumer/pipeline.js';
export type { ConsumerEvent, ConsumerObserver } from './consumer/observer.js';
export { consumeSpan, runInSpan } from './consumer/tracing.js';
export type { ConsumeSpanInfo } from './consumer/tracing.js';
export { createMemoryBus, MEMORY_FEATURES } from './memory/bus.js';
export type { MemoryBusOptions } from './memory/bus.js';
export { MemoryBroker } from './memory/broker.js';
export { createRabbitMqBus, RABBITMQ_FEATURES } from './rabbitmq/bus.js';
export type { RabbitMqBusOptions } from './rabbitmq/options.js';
export { groupQueue } from './rabbitmq/topology.js';
export { createKafkaBus, KAFKA_FEATURES } from './kafka/index.js';
export type { KafkaBusOptions } from './kafka/index.js';
export { BusRegistry, unknownBroker } from './registry.js';
export type { BusFactory } from './registry.js';
export { BROKER_NAMES, busRegistry, createBus, parseBrokerName } from './brokers.js';
export type { BrokerName, BusConfig } from './brokers.js';
export { namespacedBus } from './namespace.js';
export { cloudEventsBus } from './cloudevents.js';
export type { CloudEventsBinding, CloudEventsBusOptions } from './cloudevents.js';
export { decodeJson, encodeJson } from './json-codec.js';
export { createConsumerLagProbe, kafkaLagProbe, rabbitMqLagProbe } from './lag/index.js';
export type {
  ConsumerLagProbe,
  GroupLag,
  GroupTopic,
  KafkaLagOptions,
  RabbitMqLagOptions,
} from './lag/index.js';
