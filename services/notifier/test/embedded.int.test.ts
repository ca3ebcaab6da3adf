import { createPgliteTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver, verifyReceived } from './support/receiver.js';
import type { Receiver } from './support/receiver.js';
import { openStream } from './support/sse-client.js';

describe('embedded mode: PGlite and the in-memory job queue', () => {
  let database: TestDatabase;
  let receiver: Receiver;
  let harness: Harness;

  beforeAll(async () => {
    database = await createPgliteTestDatabase();
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

  it('delivers signed webhooks and streams the same notifications, outcome included', async () => {
    const secret = 'embedded-secret-0123';
    const created = await harness.subscribe({
      url: `${receiver.url}/hook`,
      secret,
      filter: { topics: ['concord.events.outcome'] },
    });
    expect(created.status).toBe(201);
    const stream = await openStream(`${harness.url}/v1/stream`);
    try {
      await harness.publishApplied('e-emb-1');
      await harness.publishOutcome('e-emb-1', { outcome: 'merged', final: true });
      await waitFor('webhook', () => receiver.on('/hook').length === 1);
      await waitFor('stream', () => stream.events.length === 2);
      const [request] = receiver.on('/hook');
      if (request === undefined) throw new Error('no request');
      expect(verifyReceived(request, secret)).toBe('verified');
      expect(JSON.parse(request.body)).toMatchObject({
        kind: 'outcome',
        eventId: 'e-emb-1',
        outcome: 'merged',
      });
      expect(stream.events.map((event) => event.event).sort()).toEqual(['applied', 'outcome']);
    } finally {
      stream.close();
    }
  });

  it('logs, streams and delivers a rejected outcome whose event had no aggregate type or id', async () => {
    const rejected = await harness.subscribe({
      url: `${receiver.url}/rejected`,
      secret: 'embedded-secret-rejected',
      filter: { outcomes: ['rejected'] },
    });
    const anyAggregate = await harness.subscribe({
      url: `${receiver.url}/any-aggregate`,
      secret: 'embedded-secret-any-aggregate',
      filter: { topics: ['concord.events.outcome'], aggregateIds: ['*'] },
    });
    expect([rejected.status, anyAggregate.status]).toEqual([201, 201]);
    const stream = await openStream(`${harness.url}/v1/stream?outcomes=rejected`);
    try {
      // As ingest publishes them for events rejected for lacking the field (the other one is kept).
      await harness.publishOutcome('e-no-type', { aggregateType: '', outcome: 'rejected' });
      await harness.publishOutcome('e-no-id', { aggregateId: '', outcome: 'rejected' });
      await waitFor('rejected webhooks', () => receiver.on('/rejected').length === 2);
      await waitFor('rejected stream events', () => stream.events.length === 2);
      const parse = (text: string) => JSON.parse(text) as Record<string, unknown>;
      const bodies = receiver.on('/rejected').map((request) => parse(request.body));
      expect(bodies.map((body) => body.eventId).sort()).toEqual(['e-no-id', 'e-no-type']);
      const noType = bodies.find((body) => body.eventId === 'e-no-type');
      expect(noType).toMatchObject({
        kind: 'outcome',
        outcome: 'rejected',
        aggregateId: 'task-1',
        data: { aggregateType: '', outcome: 'rejected' },
      });
      expect(noType).not.toHaveProperty('aggregateType');
      expect(stream.events.map((event) => parse(event.data).eventId).sort()).toEqual([
        'e-no-id',
        'e-no-type',
      ]);
      const { rows } = await database.db.query<{ event_id: string; aggregate_id: string | null }>(
        `SELECT event_id, aggregate_id FROM ${database.schema}.notifier_log
         WHERE event_id IN ('e-no-type', 'e-no-id') ORDER BY event_id`,
      );
      expect(rows).toEqual([
        { event_id: 'e-no-id', aggregate_id: null },
        { event_id: 'e-no-type', aggregate_id: 'task-1' },
      ]);
      // `*` matches any aggregate id, but e-no-id has none: only e-no-type reaches the second hook.
      await waitFor('aggregate-filtered webhook', () => receiver.on('/any-aggregate').length >= 1);
      const { rows: deliveries } = await database.db.query<{ event_id: string }>(
        `SELECT l.event_id FROM ${database.schema}.notifier_deliveries AS d
         JOIN ${database.schema}.notifier_log AS l ON l.id = d.notification_id
         WHERE d.subscription_id = $1 ORDER BY l.event_id`,
        [anyAggregate.json.id],
      );
      expect(deliveries).toEqual([{ event_id: 'e-no-type' }]);
    } finally {
      stream.close();
    }
  });
});
