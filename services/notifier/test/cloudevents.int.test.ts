import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { HTTP } from 'cloudevents';
import type { CloudEvent } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { metricValue, startNotifier, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver, verifyReceived } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';
import { openStream } from './support/sse-client.js';

/** What a receiver using the cloudevents SDK reads from a request. */
const received = (headers: Record<string, unknown>, body: string): CloudEvent<Record<string, unknown>> => {
  const event = HTTP.toEvent<Record<string, unknown>>({ headers: headers as Record<string, string>, body });
  if (Array.isArray(event)) throw new Error('expected one event');
  const ce = event as CloudEvent<Record<string, unknown>>;
  ce.validate();
  return ce;
};

describe('notifications as CloudEvents (the cloudevents SDK as the receiver)', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    receiver = await startReceiver();
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      }),
    });
  });
  afterAll(async () => {
    await harness?.shutdown();
    await receiver?.close();
    await database?.close();
  });

  it('delivers webhooks of a cloudevents subscription in structured mode, signed', async () => {
    const aggregateId = `ce-${unique()}`;
    const secret = 'a-webhook-secret';
    const created = await harness.subscribe({
      url: `${receiver.url}/ce`,
      secret,
      format: 'cloudevents',
      filter: { aggregateIds: [aggregateId] },
    });
    expect(created.status).toBe(201);
    expect(created.json['format']).toBe('cloudevents');
    const plain = await harness.subscribe({
      url: `${receiver.url}/plain`,
      secret,
      filter: { aggregateIds: [aggregateId] },
    });
    expect(plain.json['format']).toBe('json');

    const eventId = `e-${unique()}`;
    await harness.publishApplied(eventId, { aggregateId });
    await waitFor(
      'both deliveries',
      () => receiver.on('/ce').length === 1 && receiver.on('/plain').length === 1,
    );

    const [request] = receiver.on('/ce');
    if (request === undefined) throw new Error('no request');
    expect(request.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(Object.keys(request.headers).filter((name) => name.startsWith('ce-'))).toEqual([]);
    expect(verifyReceived(request, secret)).toBe('verified');
    const ce = received(request.headers, request.body);
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: `${eventId}:applied`,
      source: '/concord/notifier',
      type: 'dev.concord.applied',
      subject: aggregateId,
      datacontenttype: 'application/json',
      eventid: eventId,
      aggregatetype: 'task',
      topic: 'concord.events.applied',
    });
    expect(ce.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(ce.data).toMatchObject({ eventId, aggregateId });
    // The JSON subscription still gets the notification as it was.
    const [json] = receiver.on('/plain');
    expect(json?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(json?.body ?? '{}')).toMatchObject({ kind: 'applied', eventId, aggregateId });
  });

  it('refuses a subscription format it does not know', async () => {
    const response = await harness.subscribe({
      url: `${receiver.url}/x`,
      secret: 'a-webhook-secret',
      format: 'xml',
    });
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: { code: 'CONCORD_SUBSCRIPTION_INVALID' } });
  });

  it('streams CloudEvents with ?format=cloudevents, the SSE id and event as always', async () => {
    const aggregateId = `sse-ce-${unique()}`;
    const client = await openStream(
      `${harness.url}/v1/stream?format=cloudevents&aggregateIds=${aggregateId}`,
    );
    try {
      expect(client.status).toBe(200);
      await waitFor(
        'client registered',
        async () => ((await metricValue(harness.metrics, 'concord_notifier_sse_clients')) ?? 0) >= 1,
      );
      const eventId = `e-${unique()}`;
      await harness.publishOutcome(eventId, { aggregateId, outcome: 'applied', final: true });
      await waitFor('an event', () => client.events.length >= 1);
      const [sse] = client.events;
      expect(sse?.event).toBe('outcome');
      const ce = received({ 'content-type': 'application/cloudevents+json' }, sse?.data ?? '');
      expect(ce).toMatchObject({
        id: `${eventId}:outcome`,
        type: 'dev.concord.outcome',
        subject: aggregateId,
        outcome: 'applied',
        sequence: sse?.id,
      });
      expect(ce.data).toMatchObject({ eventId, outcome: 'applied', final: true });
    } finally {
      client.close();
    }
  });

  it('answers an unknown stream format 400 CONCORD_NOTIFICATION_FORMAT_INVALID', async () => {
    const response = await fetch(`${harness.url}/v1/stream?format=xml`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'CONCORD_NOTIFICATION_FORMAT_INVALID' } });
  });
});
