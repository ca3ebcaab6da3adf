import { context, propagation, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** An OpenTelemetry tracer whose finished spans stay in memory, for tests that look at spans. */
export interface MemoryTracing {
  readonly exporter: InMemorySpanExporter;
  readonly tracer: Tracer;
  /**
   * Installs the async context manager and the W3C propagator globally, and the tracer provider too
   * unless `provider: false` (code under test then gets its spans only from the tracer it is given).
   */
  install(options?: { readonly provider?: boolean }): void;
  /** Removes what `install` set. */
  uninstall(): void;
}

export const createMemoryTracing = (): MemoryTracing => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    exporter,
    tracer: provider.getTracer('test'),
    install(options = {}) {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      if (options.provider !== false) trace.setGlobalTracerProvider(provider);
    },
    uninstall() {
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
};

/** The W3C `traceparent` of a sampled span. */
export const traceparentOf = (span: { spanContext(): { traceId: string; spanId: string } }): string =>
  `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
