import { createMemoryTracing } from '@concord/bus/testing';
import { createOutbox } from '@concord/outbox';
import type { Database, Tx } from '@concord/outbox';
import { context, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createBatchedHandler } from '../src/batched-handler.js';

const tracing = createMemoryTracing();
const { exporter, tracer } = tracing;

beforeAll(() => tracing.install());
afterEach(() => exporter.reset());
afterAll(() => tracing.uninstall());

/** Transactions whose queries are recorded: the outbox rows' trace context is in the insert's parameter. */
const inserted: { traceparent: string }[][] = [];
const db = {
  kind: 'pg',
  withTransaction: <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    fn({
      query: (_sql: string, params: unknown[]) => {
        inserted.push(JSON.parse(String(params[0])) as { traceparent: string }[]);
        return Promise.resolve({ rows: [], rowCount: 0 });
      },
    } as unknown as Tx),
} as unknown as Database;
const outbox = createOutbox();

/** A batched handler that writes one outbox row per message, as the services' consumers do. */
const harness = () => {
  const batches: { messages: string[]; traceparents: string[]; activeTrace: string | undefined }[] = [];
  const handler = createBatchedHandler<string, string>({
    db,
    lingerMs: 20,
    spanName: 'test commit',
    handleBatch: async (tx, messages, contexts) => {
      const before = inserted.length;
      await outbox.add(
        tx,
        messages.map((message, i) => ({
          topic: 'topic',
          key: message,
          payload: new Uint8Array(),
          context: contexts[i] as Context,
        })),
      );
      batches.push({
        messages: [...messages],
        traceparents: inserted.slice(before).flatMap((rows) => rows.map((row) => row.traceparent)),
        activeTrace: trace.getActiveSpan()?.spanContext().traceId,
      });
      return messages.map((m) => `done ${m}`);
    },
  });
  return { handler, batches };
};

it("writes each message's outbox row in that message's trace when messages share a transaction", async () => {
  const { handler, batches } = harness();
  const a = tracer.startSpan('consume a');
  const b = tracer.startSpan('consume b');
  const within = (span: typeof a, message: string) =>
    context.with(trace.setSpan(context.active(), span), () => handler.handle(message));
  await Promise.all([within(a, 'a'), within(b, 'b')]);
  a.end();
  b.end();

  expect(batches).toHaveLength(1);
  const [batch] = batches;
  expect(batch?.messages).toEqual(['a', 'b']);
  expect(batch?.traceparents).toEqual([
    `00-${a.spanContext().traceId}-${a.spanContext().spanId}-01`,
    `00-${b.spanContext().traceId}-${b.spanContext().spanId}-01`,
  ]);

  // The shared transaction is a trace of its own that links to both messages' spans.
  const commit = exporter.getFinishedSpans().find((span) => span.name === 'test commit');
  expect(commit?.parentSpanContext).toBeUndefined();
  expect(commit?.links.map((link) => link.context.spanId).sort()).toEqual(
    [a.spanContext().spanId, b.spanContext().spanId].sort(),
  );
  expect(batch?.activeTrace).toBe(commit?.spanContext().traceId);
  expect([a.spanContext().traceId, b.spanContext().traceId]).not.toContain(commit?.spanContext().traceId);
  expect(commit?.attributes['concord.batch.jobs']).toBe(2);
});

it("runs a lone message's transaction as a child of that message's span", async () => {
  const { handler, batches } = harness();
  const alone = tracer.startSpan('consume alone');
  await context.with(trace.setSpan(context.active(), alone), () => handler.handle('alone'));
  alone.end();

  const commit = exporter.getFinishedSpans().find((span) => span.name === 'test commit');
  expect(commit?.spanContext().traceId).toBe(alone.spanContext().traceId);
  expect(commit?.parentSpanContext?.spanId).toBe(alone.spanContext().spanId);
  expect(commit?.links).toEqual([]);
  expect(batches[0]?.traceparents[0]).toContain(alone.spanContext().traceId);
});
