import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createCheckpoints } from '../src/checkpoints.js';
import type { CheckpointUpdate } from '../src/checkpoints.js';

const update = (aggregateId: string, version: number): CheckpointUpdate => ({
  projection: 'task',
  backends: ['postgres'],
  messageId: `${aggregateId}:${version}:applied`,
  eventId: `${aggregateId}-${version}`,
  aggregateId,
  version,
});

describe('projection checkpoints', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  });

  afterAll(async () => {
    await database?.close();
  });

  it('lets batches in flight at once record without waiting for each other, and sums them on read', async () => {
    const checkpoints = createCheckpoints({ schema: database.schema });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let recorded: () => void = () => undefined;
    const first = database.db.withTransaction(async (tx) => {
      await checkpoints.record(tx, [update('a', 1), update('b', 1)]);
      recorded();
      await held;
    });
    await new Promise<void>((resolve) => (recorded = resolve));
    try {
      // The first batch holds its checkpoint rows until it commits; the second must not wait for them.
      await database.db.withTransaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '2s'`);
        await checkpoints.record(tx, [update('c', 4)]);
      });
    } finally {
      release();
      await first;
    }
    await database.db.withTransaction((tx) => checkpoints.record(tx, [update('d', 2)]));
    // What a projector before migration 0014 wrote (one row per projection and backend) still counts.
    await database.db.query(
      `INSERT INTO "${database.schema}".projection_checkpoints (projection, backend, last_message_id,
         last_event_id, last_aggregate_id, last_version, projected, updated_at)
       VALUES ('task', 'postgres', 'old:applied', 'old', 'old', 9, 3, now() - interval '1 hour')`,
    );
    const [checkpoint] = await checkpoints.list(database.db);
    expect(checkpoint).toMatchObject({
      projection: 'task',
      backend: 'postgres',
      projected: 7,
      lastAggregateId: 'd',
      lastVersion: 2,
    });
    expect(await checkpoints.list(database.db)).toHaveLength(1);
  });
});
