import { createMemoryBus } from '@concord/bus';
import { createMemoryTracing, traceparentOf } from '@concord/bus/testing';
import type { IncomingMessage } from '@concord/bus';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Publisher } from '../src/relay/publisher.js';
import type { OutboxRow } from '../src/relay/row.js';

// The relay is given the tracer; no global tracer provider.
const tracing = createMemoryTracing();
const { exporter, tracer } = tracing;

beforeAll(() => tracing.install({ provider: false }));
afterAll(() => tracing.uninstall());

const row = (id: number, topic: string, key: string, traceparent: string | null): OutboxRow => ({
  id: String(id),
  tx_id: String(id),
  message_id: `m${id}`,
  topic,
  key,
  key_partition: 0,
  headers: {},
  payload: new TextEncoder().encode(`payload ${id}`),
  traceparent,
  tracestate: null,
  attempts: 0,
  created_ms: 0,
});

it('publishes every row of a mixed batch inside its own trace, and links the batch span to each', async () => {
  const writers = [tracer.startSpan('writer a'), tracer.startSpan('writer b'), tracer.startSpan('writer c')];
  for (const writer of writers) writer.end();
  const [a, b, c] = writers.map(traceparentOf);
  // Two topics, several keys, three traces and one row without a context, all in one batch.
  const rows = [
    row(1, 'topic.one', 'k1', a ?? null),
    row(2, 'topic.two', 'k2', b ?? null),
    row(3, 'topic.one', 'k3', c ?? null),
    row(4, 'topic.one', 'k1', b ?? null),
    row(5, 'topic.two', 'k4', null),
  ];
  const bus = createMemoryBus();
  const received: IncomingMessage[] = [];
  await bus.subscribe({
    group: 'g',
    topics: ['topic.one', 'topic.two'],
    handler: (message) => {
      received.push(message);
      return Promise.resolve();
    },
  });

  const outcome = await new Publisher(bus, tracer).publish(rows);
  expect(outcome.published).toHaveLength(rows.length);
  await expect.poll(() => received.length).toBe(rows.length);
  await bus.close();

  const spans = exporter.getFinishedSpans();
  const batch = spans.find((s) => s.name === 'outbox.relay.batch');
  expect(batch).toBeDefined();
  const writerIndex = [0, 1, 2, 1];
  for (const [i, r] of rows.slice(0, 4).entries()) {
    const writer = writers[writerIndex[i] ?? 0];
    const publish = spans.find(
      (s) => s.name === `publish ${r.topic}` && s.attributes['messaging.message.id'] === r.message_id,
    );
    // Each publish span is a child of the span that wrote its row, not of the batch span.
    expect(publish?.spanContext().traceId).toBe(writer?.spanContext().traceId);
    expect(publish?.parentSpanContext?.spanId).toBe(writer?.spanContext().spanId);
    // The message carries the publish span's context onward.
    const message = received.find((m) => m.id === r.message_id);
    expect(message?.headers.traceparent).toBe(traceparentOf(publish!));
  }
  // The row written outside any trace does not borrow another row's (or the batch's) context.
  const orphan = spans.find((s) => s.attributes['messaging.message.id'] === 'm5');
  expect(writers.map((w) => w.spanContext().traceId)).not.toContain(orphan?.spanContext().traceId);
  expect(orphan?.spanContext().traceId).not.toBe(batch?.spanContext().traceId);
  // The batch span is its own trace and links to every row's writer context.
  expect(writers.map((w) => w.spanContext().traceId)).not.toContain(batch?.spanContext().traceId);
  expect(batch?.links.map((l) => l.context.spanId).sort()).toEqual(
    [a, b, c, b].map((tp) => tp?.split('-')[2]).sort(),
  );
});

it('keeps the writer context of rows whose publish span is not sampled, and begins a trace (not sampled) for rows without one', async () => {
  const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('off');
  const stored = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
  const bus = createMemoryBus();
  const received: IncomingMessage[] = [];
  await bus.subscribe({
    group: 'g',
    topics: ['topic.one'],
    handler: (message) => {
      received.push(message);
      return Promise.resolve();
    },
  });
  await new Publisher(bus, unsampled).publish([
    row(1, 'topic.one', 'k1', stored),
    row(2, 'topic.one', 'k2', null),
  ]);
  await expect.poll(() => received.length).toBe(2);
  await bus.close();
  expect(received.find((m) => m.id === 'm1')?.headers.traceparent).toBe(stored);
  // A new trace id, carried with its decision (flags 00), so the consumer does not sample it on its own.
  expect(received.find((m) => m.id === 'm2')?.headers.traceparent).toMatch(
    /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/,
  );
});
