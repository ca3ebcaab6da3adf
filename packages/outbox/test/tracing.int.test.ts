import { createMemoryBus } from '@concord/bus';
import { createMemoryTracing } from '@concord/bus/testing';
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { collect, text, unique, waitFor } from './helpers.js';

let t: TestDatabase;
// The relay is given the tracer; no global tracer provider.
const tracing = createMemoryTracing();
const { exporter } = tracing;

beforeAll(async () => {
  tracing.install({ provider: false });
  t = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
});
afterAll(async () => {
  await t.close();
  tracing.uninstall();
});

it('stores the writer trace context and publishes each row as a child span carrying it in headers', async () => {
  const { tracer } = tracing;
  const bus = createMemoryBus();
  const topic = `t.${unique()}`;
  const { received } = await collect(bus, [topic]);
  const writer = tracer.startSpan('ingest');
  await context.with(trace.setSpan(context.active(), writer), () =>
    t.db.withTransaction((tx) => createOutbox().add(tx, [{ topic, key: 'k', payload: text('k:1') }])),
  );
  writer.end();
  const { rows } = await t.db.query<{ traceparent: string }>('SELECT traceparent FROM concord.outbox');
  expect(rows[0]?.traceparent).toContain(writer.spanContext().traceId);

  const relay = createRelay({ db: t.db, bus, tracer });
  relay.start();
  try {
    await waitFor('delivered', () => received.length === 1);
    await waitFor('spans exported', () =>
      exporter.getFinishedSpans().some((s) => s.name === 'outbox.relay.batch'),
    );
  } finally {
    await relay.close();
    await bus.close();
  }
  const spans = exporter.getFinishedSpans();
  const publish = spans.find((s) => s.name === `publish ${topic}`);
  const batch = spans.find((s) => s.name === 'outbox.relay.batch');
  expect(publish?.spanContext().traceId).toBe(writer.spanContext().traceId);
  expect(publish?.parentSpanContext?.spanId).toBe(writer.spanContext().spanId);
  expect(batch?.links.map((l) => l.context.spanId)).toContain(writer.spanContext().spanId);
  const header = received[0]?.headers.traceparent ?? '';
  expect(header).toBe(`00-${writer.spanContext().traceId}-${publish?.spanContext().spanId}-01`);
});
