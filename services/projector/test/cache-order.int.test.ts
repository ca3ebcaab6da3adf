import { encodeJson } from '@concord/bus';
import type { IncomingMessage } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import { createOutbox } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics } from '@concord/service-kit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres.js';
import { createRedisBackend } from '../src/backends/redis.js';
import { createCheckpoints } from '../src/checkpoints.js';
import type { Checkpoints } from '../src/checkpoints.js';
import { createProjectionHandler } from '../src/consumer.js';
import { createProjectorMetrics } from '../src/metrics.js';
import { createOrchestrator } from '../src/orchestrator.js';
import { unique, waitFor } from './support/harness.js';
import { applied } from './support/projection.js';

describe('projector caches and the Postgres commit', () => {
  let database: TestDatabase;
  let redis: Redis;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    redis = new Redis(inject('REDIS_URL'), { lazyConnect: true });
    await redis.connect();
  });

  afterAll(async () => {
    redis?.disconnect();
    await database?.close();
  });

  it('writes Redis only once the Postgres transaction committed, never ahead of a committed row', async () => {
    const keyPrefix = `test:projector-commit:${unique()}:`;
    const id = `task-${unique()}`;
    // A transaction holds at its last statement (the checkpoints) until `gate` opens.
    let gate = Promise.resolve();
    let reachedCheckpoints = false;
    const checkpoints = createCheckpoints({ schema: database.schema });
    const heldCheckpoints: Checkpoints = {
      ...checkpoints,
      async record(tx, updates) {
        reachedCheckpoints = true;
        await gate;
        await checkpoints.record(tx, updates);
      },
    };
    const handler = createProjectionHandler({
      db: database.db,
      orchestrator: createOrchestrator([
        createPostgresBackend({ schema: database.schema }),
        createRedisBackend({ redis, aggregateTypes: ['task'], keyPrefix }),
      ]),
      outbox: createOutbox({ schema: database.schema }),
      checkpoints: heldCheckpoints,
      metrics: createProjectorMetrics(createMetrics('projector-commit-test')),
      logger: silentLogger,
      consumer: 'projector',
      schema: database.schema,
      now: Date.now,
    });
    const cached = () => redis.hget(`${keyPrefix}task:${id}`, 'version');
    const committed = async () => {
      const { rows } = await database.db.query<{ version: number }>(
        `SELECT version::float8 AS version FROM ${database.schema}.projections
         WHERE aggregate_type = 'task' AND aggregate_id = $1`,
        [id],
      );
      return rows[0]?.version;
    };
    // Version 1 committed and cached; version 2's transaction then holds before its commit.
    const message = (version: number): IncomingMessage => ({
      id: `${id}:v${version}`,
      topic: Topics.applied,
      key: id,
      payload: encodeJson(applied('task', id, version, { title: `v${version}` })),
      headers: {},
      attempt: 1,
    });
    await handler(message(1));
    expect(await cached()).toBe('1');

    let open: () => void = () => undefined;
    gate = new Promise<void>((resolve) => (open = resolve));
    reachedCheckpoints = false;
    const second = handler(message(2));
    try {
      await waitFor('the second transaction to reach its last statement', () => reachedCheckpoints);
      expect(await committed()).toBe(1);
      // Not version 2 while Postgres has not committed it (a miss is allowed: reads fill from Postgres).
      expect(await cached()).not.toBe('2');
    } finally {
      open();
      await second;
    }
    expect(await committed()).toBe(2);
    expect(await cached()).toBe('2');
    await handler.close();
    await redis.unlink(`${keyPrefix}task:${id}`);
  });
});
