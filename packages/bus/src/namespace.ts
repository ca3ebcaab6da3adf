import { DLQ_HEADERS } from './port.js';
import type { IncomingMessage, MessageBus, MessageHeaders, SubscribeOptions } from './port.js';

/**
 * A view of a bus in which every topic and consumer group carries a prefix, so several Concord
 * deployments (or test runs) share one broker without seeing each other's messages. Handlers see the
 * topic names without the prefix, and so do a dead letter's original-topic and group headers (the
 * consumer that gave up wrote them with the prefix). An empty prefix returns the bus itself.
 */
export const namespacedBus = (bus: MessageBus, prefix: string): MessageBus => {
  if (prefix === '') return bus;
  const strip = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  const stripHeaders = (headers: MessageHeaders): MessageHeaders => {
    const topic = headers[DLQ_HEADERS.originalTopic];
    const group = headers[DLQ_HEADERS.group];
    if (topic === undefined && group === undefined) return headers;
    return {
      ...headers,
      ...(topic === undefined ? {} : { [DLQ_HEADERS.originalTopic]: strip(topic) }),
      ...(group === undefined ? {} : { [DLQ_HEADERS.group]: strip(group) }),
    };
  };
  return {
    name: bus.name,
    features: bus.features,
    publish: (topic, messages) => bus.publish(`${prefix}${topic}`, messages),
    declare: (topology) =>
      bus.declare(
        topology.map(({ topic, groups }) => ({
          topic: `${prefix}${topic}`,
          groups: groups.map((group) => `${prefix}${group}`),
        })),
      ),
    subscribe: (options: SubscribeOptions) =>
      bus.subscribe({
        ...options,
        group: `${prefix}${options.group}`,
        topics: options.topics.map((topic) => `${prefix}${topic}`),
        handler: (message: IncomingMessage) =>
          options.handler({
            ...message,
            topic: strip(message.topic),
            headers: stripHeaders(message.headers),
          }),
      }),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
};
