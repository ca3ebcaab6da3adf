import { trace } from '@opentelemetry/api';
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';

/**
 * Wraps a propagator so `inject` never moves a carrier to another trace: when the carrier already holds
 * a `traceparent` of a different trace than the context being injected, it is left alone; within the
 * same trace the injected (more specific) span replaces it, as usual.
 *
 * Concord's messages carry their own trace context: the outbox relay publishes each row inside the
 * context it was written under and sets `traceparent` from that row's publish span. The amqplib and
 * kafkajs instrumentations then inject the context active at `publish`/`send` — for a relay batch, the
 * batch span, a trace of its own — into the same headers. Keeping the row's context keeps each message
 * in its event's trace; carriers without one (a user's submit message, an outgoing HTTP request) get
 * the instrumentation's context as usual.
 */
export class KeepExistingContextPropagator implements TextMapPropagator {
  readonly #inner: TextMapPropagator;

  constructor(inner: TextMapPropagator) {
    this.#inner = inner;
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const existing = existingTraceId(carrier);
    if (existing !== undefined && existing !== trace.getSpanContext(context)?.traceId) return;
    this.#inner.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.#inner.extract(context, carrier, getter);
  }

  fields(): string[] {
    return this.#inner.fields();
  }
}

/** The trace id of the carrier's `traceparent` (`00-<trace id>-<span id>-<flags>`), if it has one. */
const existingTraceId = (carrier: unknown): string | undefined => {
  if (typeof carrier !== 'object' || carrier === null) return undefined;
  const value: unknown = (carrier as Record<string, unknown>)['traceparent'];
  // Strings in HTTP and AMQP headers, Buffers in Kafka message headers.
  const text =
    typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString() : '';
  const traceId = text.split('-')[1];
  return traceId !== undefined && traceId.length === 32 ? traceId.toLowerCase() : undefined;
};
