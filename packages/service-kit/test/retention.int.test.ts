import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createInboxRetentionModule, createMetrics, createRetentionModule } from '../src/index.js';

const HOUR_MS = 3_600_000;

const until = async (what: string, check: () => Promise<boolean>) => {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('retention loop', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  });

  afterAll(async () => {
    await database?.close();
  });

  it('warns when the inbox window is under an hour, and not otherwise', () => {
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, warn: (fields: unknown) => void warnings.push(fields) };
    const module = (ms: number) =>
      createInboxRetentionModule({
        db: database.db,
        metrics: createMetrics('retention-warn-test'),
        logger,
        consumers: ['svc'],
        env: { INBOX_RETENTION_MS: ms, RETENTION_INTERVAL_MS: 50 },
      });
    module(HOUR_MS);
    expect(warnings).toEqual([]);
    module(60_000);
    expect(warnings).toEqual([{ inboxRetentionMs: 60_000 }]);
  });

  it('prunes a service’s own inbox rows past their retention on its own, in batches, and counts them', async () => {
    await database.db.query(
      `INSERT INTO concord.inbox (consumer, message_id, received_at)
       SELECT c, 'm-' || n, now() - (CASE WHEN n <= 12000 THEN 3 ELSE 0 END) * interval '1 hour'
       FROM unnest(ARRAY['svc', 'other']) AS c, generate_series(1, 12010) AS n`,
    );
    const metrics = createMetrics('retention-test');
    const retention = createInboxRetentionModule({
      db: database.db,
      metrics,
      logger: silentLogger,
      consumers: ['svc'],
      env: { INBOX_RETENTION_MS: HOUR_MS, RETENTION_INTERVAL_MS: 50 },
    });
    const count = async (consumer: string) => {
      const { rows } = await database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM concord.inbox WHERE consumer = $1`,
        [consumer],
      );
      return rows[0]?.n ?? -1;
    };
    await retention.start();
    try {
      await until('the old rows of svc pruned', async () => (await count('svc')) === 10);
    } finally {
      await retention.close();
    }
    expect(await count('other')).toBe(12_010);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /concord_retention_pruned_rows_total\{table="inbox",service="retention-test"\} 12000/,
    );
  });

  it('logs a failing table and goes on with the others', async () => {
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_: object, msg?: string) => warnings.push(msg ?? ''),
      child: () => logger,
    };
    const retention = createRetentionModule({
      metrics: createMetrics('retention-failing'),
      logger,
      tasks: [
        { table: 'broken', pruneBatch: () => Promise.reject(new Error('no such table')) },
        { table: 'fine', pruneBatch: () => Promise.resolve({ deleted: 3, more: false }) },
      ],
    });
    expect(await retention.runOnce()).toEqual({ fine: 3 });
    expect(warnings).toEqual(['pruning failed; the next run tries again']);
    await retention.close();
  });
});
