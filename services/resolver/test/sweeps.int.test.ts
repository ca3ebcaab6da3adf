import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { createMetrics } from '@concord/service-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createResolverModule } from '../src/index.js';
import type { ResolverModule } from '../src/index.js';
import { budgetConflict, createHarness, unique } from './support/harness.js';
import type { Harness } from './support/harness.js';

/** A logger that keeps the messages of errors. */
const errorLog = (): Logger & { readonly errors: string[] } => {
  const errors: string[] = [];
  const logger: Logger & { readonly errors: string[] } = {
    ...silentLogger,
    errors,
    error: (_obj, msg) => {
      errors.push(msg ?? '');
    },
    child: () => logger,
  };
  return logger;
};

// Two resolver instances on one database run their escalation sweeps at the same moment over the same
// overdue reviews: each review is escalated once (one timeout decision, one final outcome message), and
// neither instance even tries one the other settled (the review is re-read under its lock).
describe('escalation sweeps of two resolver instances', () => {
  let h: Harness;
  const loggers = [errorLog(), errorLog()];
  let instances: ResolverModule[];

  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
    instances = loggers.map((logger, i) =>
      createResolverModule({
        db: h.db,
        bus: h.bus,
        logger,
        metrics: createMetrics(`resolver-${i}`),
        policy: h.policy,
        clock: h.clock,
        sweepIntervalMs: 3_600_000,
      }),
    );
  });
  afterAll(() => h.close());

  it('escalate each overdue review once between them', async () => {
    const conflictIds: string[] = [];
    for (let i = 0; i < 16; i += 1) {
      const id = `task-${unique()}`;
      conflictIds.push(`${id}-3`);
      await h.append(budgetConflict(id));
      await h.module.resolver.handleDetected(await h.detected(`${id}-3`));
    }
    h.clock.advance(31 * 60_000);

    const counts = await Promise.all(instances.map((instance) => instance.sweep()));
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(16);
    expect(loggers.flatMap((logger) => logger.errors)).toEqual([]);
    expect(await h.module.sweep()).toBe(0);

    for (const conflictId of conflictIds) {
      const ledger = await h.ledger(conflictId);
      expect(ledger.map((entry) => entry['decided_by'])).toEqual(['policy', 'timeout']);
      const finals = (await h.outboxFor(`${conflictId}:outcome`)).filter((row) => row.body['final'] === true);
      expect(finals).toHaveLength(1);
      expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'resolved', version: 3 });
    }
  });
});
