import type { ConsumerObserver, PublishObserver } from '@concord/bus';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Pass to the bus (`observer`): consumer throughput, handler latency, retries and dead letters. */
  readonly consumerObserver: ConsumerObserver;
  /** Pass to the bus (`publishObserver`): messages refused because no consumer group's queue takes them. */
  readonly publishObserver: PublishObserver;
}

/**
 * One Prometheus registry per service, with process metrics, an HTTP latency histogram and the bus
 * consumers' counters.
 */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'concord_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    httpDuration,
    consumerObserver: consumerMetrics(registry),
    publishObserver: publishMetrics(registry),
  };
}

const publishMetrics = (registry: Registry): PublishObserver => {
  const unroutable = new Counter({
    name: 'concord_bus_unroutable_messages_total',
    help: 'Messages the broker refused because no consumer group queue of their topic exists (retried).',
    labelNames: ['topic'] as const,
    registers: [registry],
  });
  return (event) => unroutable.inc({ topic: event.topic }, event.messages);
};

const consumerMetrics = (registry: Registry): ConsumerObserver => {
  const handled = new Counter({
    name: 'concord_consumer_messages_total',
    help: 'Messages consumed from the bus by consumer group, topic and result (handled, dead_lettered).',
    labelNames: ['group', 'topic', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'concord_consumer_handle_duration_seconds',
    help: 'Duration of successful handler attempts by consumer group and topic.',
    labelNames: ['group', 'topic'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'concord_consumer_retries_total',
    help: 'Failed handler attempts that will be retried, by consumer group and topic.',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'concord_consumer_dead_letters_total',
    help: 'Messages sent to <topic>.dlq by consumer group, topic and error code.',
    labelNames: ['group', 'topic', 'code'] as const,
    registers: [registry],
  });
  return (event) => {
    switch (event.kind) {
      case 'handled':
        handled.inc({ group: event.group, topic: event.topic, result: 'handled' });
        duration.observe({ group: event.group, topic: event.topic }, event.seconds);
        return;
      case 'retry':
        retries.inc({ group: event.group, topic: event.topic });
        return;
      case 'dead-lettered':
        handled.inc({ group: event.group, topic: event.topic, result: 'dead_lettered' });
        deadLetters.inc({ group: event.group, topic: event.topic, code: event.code });
        return;
    }
  };
};
