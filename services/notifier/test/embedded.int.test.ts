import { createPgliteTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import { verifySignature } from '../src/signature.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { startReceiver } from './support/receiver.js';
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
      expect(
        verifySignature(request?.body ?? '', secret, request?.headers['x-concord-signature'] as string),
      ).toBe(true);
      expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
        kind: 'outcome',
        eventId: 'e-emb-1',
        outcome: 'merged',
      });
      expect(stream.events.map((event) => event.event).sort()).toEqual(['applied', 'outcome']);
    } finally {
      stream.close();
    }
  });
});
