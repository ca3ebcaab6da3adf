import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EventEnvelope } from '@concord/core/envelope';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { getOptional, postJson } from './support/http.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import type { ReceivedSpan } from './support/otlp-receiver.js';
import { eventually } from './support/processes.js';
import { startServices } from './support/stack.js';
import type { Stack } from './support/stack.js';
import { expectDomainAttributes, traceProblems } from './support/trace-check.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

const deps = () => ({
  DATABASE_URL: inject('DATABASE_URL'),
  AMQP_URL: inject('AMQP_URL'),
  KAFKA_BROKERS: inject('KAFKA_BROKERS'),
  REDIS_URL: inject('REDIS_URL'),
});

const doc = (id: string, aggregateId: string, title: string, baseVersion?: number): EventEnvelope => ({
  id,
  type: 'DocEdited',
  aggregateType: 'doc',
  aggregateId,
  data: { title },
  metadata: { source: 'tracing-e2e' },
  ...(baseVersion === undefined ? {} : { baseVersion }),
});

interface EventView {
  readonly outcome: string;
}

/**
 * Prepares a conflict on a fresh aggregate (created, then changed by a first writer), then submits a
 * stale edit of the same field through `submit`: ingest detects the conflict, the resolver settles it
 * with the policy's default (last_write_wins), the projector projects the result and the notifier
 * delivers webhooks. Resolves with the stale edit's id once its outcome is final.
 */
const staleEdit = async (
  stack: Stack,
  aggregateId: string,
  submit: (event: EventEnvelope) => Promise<void>,
): Promise<string> => {
  const post = (event: EventEnvelope) => postJson(`${stack.urls.ingest}/v1/events`, { events: [event] });
  await post(doc(`${aggregateId}-0`, aggregateId, 'created'));
  await post(doc(`${aggregateId}-1`, aggregateId, 'first writer', 1));
  const stale = doc(`${aggregateId}-2`, aggregateId, 'second writer', 1);
  await submit(stale);
  await eventually(
    async () => {
      const view = await getOptional<EventView>(`${stack.urls.ingest}/v1/events/${stale.id}`);
      return view !== undefined && view.outcome !== 'conflict' ? view : undefined;
    },
    { what: `a final outcome for ${stale.id}` },
  );
  return stale.id;
};

/** Each service's log lines (pino JSON) written in the trace. */
const logLinesOf = (stack: Stack, traceId: string): Record<string, string[]> =>
  Object.fromEntries(
    Object.entries(stack.logFiles).map(([service, file]) => [
      service,
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { trace_id?: string; msg?: string })
        .filter((entry) => entry.trace_id === traceId)
        .map((entry) => entry.msg ?? ''),
    ]),
  );

/** Waits until the trace is complete and well-formed; fails with what is still wrong. */
const settledTrace = async (
  otlp: OtlpReceiver,
  traceId: string,
  check: (spans: readonly ReceivedSpan[]) => string[],
): Promise<ReceivedSpan[]> => {
  let problems: string[] = [];
  try {
    return await eventually(
      () => {
        const spans = otlp.trace(traceId);
        problems = check(spans);
        return problems.length === 0 ? spans : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `trace ${traceId} to be complete` },
    );
  } catch (error) {
    throw new Error(`trace ${traceId}: ${problems.join('; ')}`, { cause: error });
  }
};

/** The metric names the README's table documents (shorthand `…_x` rows expanded from the row's first name). */
const documentedMetrics = (): string[] => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const names: string[] = [];
  for (const line of readme.split('\n')) {
    if (!line.startsWith('| `concord_')) continue;
    const cell = line.split('|')[1] ?? '';
    const listed = [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    const first = listed[0] ?? '';
    const stem = first.slice(0, first.lastIndexOf('_', first.lastIndexOf('_') - 1));
    for (const name of listed) names.push(name.startsWith('…') ? `${stem}${name.slice(1)}` : name);
  }
  return names;
};

/** Every service's log has the event's lines, found by the trace id. */
const expectLogLines = (stack: Stack, traceId: string): void => {
  const lines = logLinesOf(stack, traceId);
  expect(lines.ingest).toContain('event recorded');
  expect(lines.resolver).toContain('conflict decided');
  expect(lines.projector).toContain('message projected');
  expect(lines.notifier).toContain('notification recorded');
  expect(lines.notifier).toContain('webhook delivered');
};

describe.each(['rabbitmq', 'kafka'] as const)('one trace per event over %s', (mode) => {
  const otlp = new OtlpReceiver();
  const hooks = new WebhookReceiver('tracing-secret');
  let stack: Stack;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    await otlp.start();
    await hooks.start();
    stack = await startServices(mode, deps(), { otlpEndpoint: otlp.url, logLevel: 'debug' });
    await postJson(`${stack.urls.notifier}/v1/subscriptions`, {
      url: hooks.url,
      secret: hooks.secret,
      filter: { aggregateIds: [`traced-${run}-*`] },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await hooks.close();
    await otlp.close();
  });

  const webhookTraceparents = () => hooks.received.map((r) => r.traceparent);

  test('through HTTP: the request starts a trace that covers every service', async () => {
    const eventId = await staleEdit(stack, `traced-${run}-http`, async (event) => {
      await postJson(`${stack.urls.ingest}/v1/events`, { events: [event] });
    });
    const entry = await eventually(
      () =>
        otlp.spans.find(
          (span) =>
            span.service === 'ingest' &&
            span.attributes['concord.event.id'] === eventId &&
            span.attributes['concord.outcome'] === 'conflict',
        ),
      { what: `ingest's span for ${eventId}` },
    );
    const spans = await settledTrace(otlp, entry.traceId, (trace) =>
      traceProblems(trace, { webhookTraceparents: webhookTraceparents() }),
    );
    expectDomainAttributes(spans, eventId);
    expectLogLines(stack, entry.traceId);
    // The relay's batch spans link to the trace instead of joining it.
    const linking = otlp.spans.filter((span) => span.links.some((link) => link.traceId === entry.traceId));
    expect(linking.length).toBeGreaterThan(0);
    expect(linking.every((span) => span.traceId !== entry.traceId)).toBe(true);
    // Nothing of the aggregate's other events (separate requests) ended up in this trace.
    const others = spans.filter((span) => {
      const id = span.attributes['concord.event.id'];
      return typeof id === 'string' && id !== '' && !id.startsWith(eventId);
    });
    expect(
      others.map((span) => `${span.service}:${span.name}:${String(span.attributes['concord.event.id'])}`),
    ).toEqual([]);
  });

  test('every metric the README documents is served by a service', async () => {
    const served = (
      await Promise.all(Object.values(stack.urls).map(async (url) => (await fetch(`${url}/metrics`)).text()))
    ).join('\n');
    const documented = documentedMetrics();
    expect(documented.length).toBeGreaterThan(30);
    expect(documented.filter((name) => !served.includes(`# TYPE ${name} `))).toEqual([]);
  });

  test("through the broker intake: the submitter's trace continues through every service", async () => {
    const submit = stack.submit;
    if (submit === undefined) throw new Error('no broker intake');
    const traceId = randomBytes(16).toString('hex');
    const parent = randomBytes(8).toString('hex');
    const eventId = await staleEdit(stack, `traced-${run}-broker`, (event) =>
      submit([
        {
          id: event.id,
          key: event.aggregateId,
          event,
          headers: { traceparent: `00-${traceId}-${parent}-01` },
        },
      ]),
    );
    const spans = await settledTrace(otlp, traceId, (trace) =>
      traceProblems(trace, { rootParent: parent, webhookTraceparents: webhookTraceparents() }),
    );
    expectDomainAttributes(spans, eventId);
    expectLogLines(stack, traceId);
    expect(spans.some((span) => span.service === 'ingest' && span.parentSpanId === parent)).toBe(true);
  });
});
