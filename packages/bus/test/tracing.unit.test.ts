import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcordError } from '@concord/core';
import { createMemoryBus } from '../src/index.js';
import type { ConsumerEvent } from '../src/consumer/observer.js';
import { createMemoryTracing, traceparentOf } from '../src/testing/index.js';

const tracing = createMemoryTracing();
const { exporter, tracer } = tracing;

beforeAll(() => tracing.install());
afterAll(() => tracing.uninstall());

const encode = (text: string) => new TextEncoder().encode(text);

it('runs each handler in a consumer span continuing the trace of its message headers', async () => {
  const events: ConsumerEvent[] = [];
  const bus = createMemoryBus({ observer: (event) => events.push(event) });
  const producers = [tracer.startSpan('producer 1'), tracer.startSpan('producer 2')];
  for (const p of producers) p.end();
  const seen = new Map<string, { traceId: string | undefined; spanId: string | undefined }>();
  let failOnce = true;
  await bus.subscribe({
    group: 'g1',
    topics: ['t.one'],
    retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    handler: async (message) => {
      // What the handler does (queries, outbox rows) sees the consumer span as active.
      const active = trace.getActiveSpan()?.spanContext();
      seen.set(`${message.id}:${message.attempt}`, { traceId: active?.traceId, spanId: active?.spanId });
      if (message.id === 'm2' && failOnce) {
        failOnce = false;
        throw new ConcordError('CONCORD_TEST', 'transient', { retryable: true });
      }
      if (message.id === 'm3') throw new ConcordError('CONCORD_TEST_POISON', 'poison', { retryable: false });
      await Promise.resolve();
    },
  });
  await bus.publish('t.one', [
    { id: 'm1', key: 'a', payload: encode('1'), headers: { traceparent: traceparentOf(producers[0]!) } },
    { id: 'm2', key: 'a', payload: encode('2'), headers: { traceparent: traceparentOf(producers[1]!) } },
    { id: 'm3', key: 'b', payload: encode('3') },
  ]);
  await expect.poll(() => events.filter((e) => e.kind !== 'retry').length).toBe(3);
  await bus.close();

  const spans = exporter.getFinishedSpans().filter((s) => s.name === 'process t.one');
  const m1 = spans.find((s) => s.attributes['messaging.message.id'] === 'm1');
  expect(m1?.kind).toBe(SpanKind.CONSUMER);
  expect(m1?.spanContext().traceId).toBe(producers[0]?.spanContext().traceId);
  expect(m1?.parentSpanContext?.spanId).toBe(producers[0]?.spanContext().spanId);
  expect(m1?.attributes).toMatchObject({
    'messaging.system': 'memory',
    'messaging.destination.name': 't.one',
    'messaging.operation.type': 'process',
    'messaging.consumer.group.name': 'g1',
  });
  expect(seen.get('m1:1')).toEqual({ traceId: m1?.spanContext().traceId, spanId: m1?.spanContext().spanId });

  // m2 is behind m1 on key a: its handler runs after m1's, yet in m2's own trace — on both attempts.
  const m2 = spans.filter((s) => s.attributes['messaging.message.id'] === 'm2');
  expect(m2).toHaveLength(2);
  for (const span of m2) {
    expect(span.spanContext().traceId).toBe(producers[1]?.spanContext().traceId);
    expect(span.parentSpanContext?.spanId).toBe(producers[1]?.spanContext().spanId);
  }
  expect(m2.map((s) => s.status.code).sort()).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR].sort());

  // A message without a context starts its own trace, unrelated to the others.
  const m3 = spans.find((s) => s.attributes['messaging.message.id'] === 'm3');
  expect(m3?.parentSpanContext).toBeUndefined();
  expect(producers.map((p) => p.spanContext().traceId)).not.toContain(m3?.spanContext().traceId);
  expect(m3?.status.code).toBe(SpanStatusCode.ERROR);

  // The metrics hook saw two handled messages, one retry and one dead letter.
  expect(events.map((e) => e.kind).sort()).toEqual(['dead-lettered', 'handled', 'handled', 'retry']);
  expect(events.find((e) => e.kind === 'dead-lettered')).toMatchObject({ code: 'CONCORD_TEST_POISON' });
});
