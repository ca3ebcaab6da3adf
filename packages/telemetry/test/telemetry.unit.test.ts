import { ROOT_CONTEXT, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { expect, it } from 'vitest';
import { KeepExistingContextPropagator } from '../src/propagator.js';
import { tracingEnabled } from '../src/settings.js';

it('turns tracing on only with an endpoint or an explicitly named exporter', () => {
  expect(tracingEnabled({})).toBe(false);
  expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' })).toBe(true);
  expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' })).toBe(true);
  expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
  expect(
    tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' }),
  ).toBe(false);
  expect(
    tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_TRACES_EXPORTER: 'none' }),
  ).toBe(false);
  expect(tracingEnabled({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
});

it('never moves a carrier that already has a trace context to another trace', () => {
  const propagator = new KeepExistingContextPropagator(new W3CTraceContextPropagator());
  const active = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  });
  const own = '00-11111111111111111111111111111111-2222222222222222-01';
  const message: Record<string, unknown> = { traceparent: own };
  propagator.inject(active, message, defaultTextMapSetter);
  expect(message['traceparent']).toBe(own);
  const kafka: Record<string, unknown> = { traceparent: Buffer.from(own) };
  propagator.inject(active, kafka, defaultTextMapSetter);
  expect(String(kafka['traceparent'])).toBe(own);

  // Within the same trace, the injected span is the more specific parent and replaces the header.
  const sameTrace: Record<string, string> = {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-3333333333333333-01',
  };
  propagator.inject(active, sameTrace, defaultTextMapSetter);
  expect(sameTrace['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');

  const fresh: Record<string, string> = {};
  propagator.inject(active, fresh, defaultTextMapSetter);
  expect(fresh['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
});
