import { expect } from 'vitest';
import { SpanKind } from './otlp-receiver.js';
import type { ReceivedSpan } from './otlp-receiver.js';

export const SERVICES = ['ingest', 'resolver', 'projector', 'notifier'] as const;

/** `concord.events.applied` from a topic name with or without a deployment prefix. */
export const topicOf = (span: ReceivedSpan): string => {
  const name = String(span.attributes['messaging.destination.name'] ?? '');
  const at = name.indexOf('concord.');
  return at === -1 ? name : name.slice(at);
};

/** Concord's own consumer spans (the bus's, with the message key), not a client library's. */
const isConcordConsumer = (span: ReceivedSpan): boolean =>
  span.kind === SpanKind.consumer && span.attributes['concord.message.key'] !== undefined;

/** The relay's publish spans: PRODUCER spans carrying the outbox lag. */
const isRelayPublish = (span: ReceivedSpan): boolean =>
  span.kind === SpanKind.producer && span.attributes['concord.outbox.lag_ms'] !== undefined;

export interface TraceExpectation {
  /** The span id the entry span's parent must be: the submitter's own span (broker intake). */
  readonly rootParent?: string;
  /** The webhook requests' `traceparent` headers. */
  readonly webhookTraceparents: readonly string[];
}

/**
 * What one submitted event's trace must be, as far as the collected spans show it yet: returns the
 * problems (empty when the trace is complete and well-formed), so a caller can poll until the services
 * have exported everything.
 */
export const traceProblems = (spans: readonly ReceivedSpan[], expectation: TraceExpectation): string[] => {
  const problems: string[] = [];
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const parentOf = (span: ReceivedSpan) => byId.get(span.parentSpanId);
  const describe = (span: ReceivedSpan) => `${span.service}:${span.name}`;

  // Every service, and nothing but the services.
  for (const service of SERVICES) {
    if (!spans.some((span) => span.service === service)) problems.push(`no ${service} span`);
  }
  for (const span of spans) {
    if (!(SERVICES as readonly string[]).includes(span.service))
      problems.push(`foreign span ${describe(span)}`);
  }

  // One entry: a single root (HTTP) or spans hanging off the submitter's span (broker), all in ingest.
  const entries = spans.filter((span) => parentOf(span) === undefined);
  for (const entry of entries) {
    const expectedParent = expectation.rootParent ?? '';
    if (entry.parentSpanId !== expectedParent) {
      problems.push(`${describe(entry)} has parent ${entry.parentSpanId} outside the trace`);
    }
    if (entry.service !== 'ingest') problems.push(`entry span ${describe(entry)} is not ingest's`);
  }
  if (expectation.rootParent === undefined && entries.length !== 1) {
    problems.push(`${entries.length} root spans: ${entries.map(describe).join(', ')}`);
  }
  if (
    expectation.rootParent === undefined &&
    entries[0] !== undefined &&
    entries[0].kind !== SpanKind.server
  ) {
    problems.push(`root ${describe(entries[0])} is not ingest's HTTP server span`);
  }

  // Each hop through the outbox: every consumer continues the relay's publish span of its message's
  // topic (the services may share one outbox, so any service's relay may have published it), which is
  // a child of the span that wrote the outbox row. The entry message of a broker intake has no relay.
  const consumers = spans.filter(isConcordConsumer);
  for (const consumer of consumers) {
    if (expectation.rootParent !== undefined && consumer.parentSpanId === expectation.rootParent) continue;
    const parent = parentOf(consumer);
    if (parent === undefined || !isRelayPublish(parent) || topicOf(parent) !== topicOf(consumer)) {
      problems.push(`${describe(consumer)} is not a child of a relay publish of ${topicOf(consumer)}`);
    } else if (parentOf(parent) === undefined) {
      problems.push(`${describe(parent)} is not a child of the span that wrote its row`);
    }
  }
  /** A consumer in `to` of a message `from` wrote to its outbox. */
  const hop = (topic: string, from: string, to: string) => {
    const found = consumers.some((span) => {
      const writer = parentOf(parentOf(span) ?? span);
      return span.service === to && topicOf(span) === topic && writer?.service === from;
    });
    if (!found) problems.push(`no hop ${from} → ${to} over ${topic}`);
  };
  hop('concord.conflicts.detected', 'ingest', 'resolver');
  hop('concord.events.applied', 'resolver', 'projector');
  hop('concord.aggregates.projected', 'projector', 'notifier');
  hop('concord.conflicts.resolved', 'resolver', 'notifier');
  hop('concord.events.outcome', 'resolver', 'notifier');

  // The webhook: a delivery job continuing a notifier consumer span, its POST a child of the job, and
  // the receiver got that POST's context.
  const deliveries = spans.filter((span) => span.service === 'notifier' && span.name === 'deliver webhook');
  if (deliveries.length === 0) problems.push('no webhook delivery span');
  for (const delivery of deliveries) {
    const parent = parentOf(delivery);
    if (parent === undefined || parent.service !== 'notifier' || !isConcordConsumer(parent)) {
      problems.push(`delivery ${delivery.spanId} does not continue a notifier consumer span`);
    }
  }
  const posts = spans.filter(
    (span) => span.kind === SpanKind.client && deliveries.some((d) => d.spanId === span.parentSpanId),
  );
  if (posts.length === 0) problems.push('no webhook POST span under a delivery');
  const received = expectation.webhookTraceparents.map((header) => header.split('-')[2] ?? '');
  if (!posts.some((post) => received.includes(post.spanId))) {
    problems.push('no webhook request carried the traceparent of a delivery POST span');
  }
  return problems;
};

/** Asserts the domain attributes the spans of one event's trace carry. */
export const expectDomainAttributes = (spans: readonly ReceivedSpan[], eventId: string): void => {
  const ingest = spans.find(
    (span) => span.service === 'ingest' && span.attributes['concord.event.id'] === eventId,
  );
  expect(ingest?.attributes).toMatchObject({ 'concord.outcome': 'conflict', 'concord.event.count': 1 });
  const decision = spans.find(
    (span) => span.service === 'resolver' && span.attributes['concord.strategy'] !== undefined,
  );
  expect(decision?.attributes).toMatchObject({
    'concord.event.id': eventId,
    'concord.strategy': 'last_write_wins',
    'concord.outcome': 'resolved',
  });
  expect(String(decision?.attributes['concord.conflict.id'] ?? '')).not.toBe('');
  const publishes = spans.filter(isRelayPublish);
  expect(publishes.length).toBeGreaterThan(0);
  for (const publish of publishes) expect(publish.attributes['concord.outbox.lag_ms']).toBeTypeOf('number');
  const projections = spans.map((span) => span.attributes['concord.projection.result']);
  expect(projections).toContain('projected');
};
