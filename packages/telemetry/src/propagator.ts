import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';

/**
 * Wraps a propagator so `inject` leaves a carrier alone when it already holds a `traceparent`.
 *
 * Concord's messages carry their own trace context: the outbox relay publishes each row inside the
 * context it was written under and sets `traceparent` from that row's publish span. The amqplib and
 * kafkajs instrumentations inject the context active at `publish`/`send` — for a relay batch, the
 * batch span of another trace — into the same headers. Keeping the header that is already there keeps
 * each message in its own trace; carriers without one (a user's submit message, an outgoing HTTP
 * request) get the instrumentation's context as usual.
 */
export class KeepExistingContextPropagator implements TextMapPropagator {
  readonly #inner: TextMapPropagator;

  constructor(inner: TextMapPropagator) {
    this.#inner = inner;
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (hasTraceparent(carrier)) return;
    this.#inner.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.#inner.extract(context, carrier, getter);
  }

  fields(): string[] {
    return this.#inner.fields();
  }
}

const hasTraceparent = (carrier: unknown): boolean => {
  if (typeof carrier !== 'object' || carrier === null) return false;
  const value: unknown = (carrier as Record<string, unknown>)['traceparent'];
  // Strings in HTTP and AMQP headers, Buffers in Kafka message headers.
  return (typeof value === 'string' || value instanceof Uint8Array) && value.length > 0;
};
