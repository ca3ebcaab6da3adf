export { DLQ_HEADERS, dlqTopic } from './port.js';
export type {
  BusError,
  BusFeatures,
  IncomingMessage,
  MessageBus,
  MessageHandler,
  MessageHeaders,
  OutgoingMessage,
  RetryOptions,
  SubscribeOptions,
  Subscription,
} from './port.js';
