import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { budgetConflict, createHarness, titleConflict, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';

describe('resolver end to end through the relay and the memory bus', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'), { relay: true });
  });
  afterAll(() => h.close());

  it('consumes the detected conflict ingest wrote and publishes the decision', async () => {
    const received: { topic: string; id: string }[] = [];
    const subscription = await h.bus.subscribe({
      group: `observer-${unique()}`,
      topics: ['concord.conflicts.resolved', 'concord.events.applied', 'concord.events.outcome'],
      handler: (message) => {
        received.push({ topic: message.topic, id: message.id });
        return Promise.resolve();
      },
    });
    const id = `task-${unique()}`;
    await h.append(titleConflict(id));
    await waitFor(
      'the resolved outcome',
      async () => (await h.store.getEvent(h.db, `${id}-3`))?.outcome === 'resolved',
    );
    await waitFor('the published decision', () =>
      Promise.resolve(received.some((m) => m.id === `${id}-3:outcome:resolved`)),
    );
    expect(received.filter((m) => m.id.startsWith(`${id}-3`)).map((m) => m.id)).toEqual(
      expect.arrayContaining([`${id}-3:resolved`, `${id}-3:resolution:applied`, `${id}-3:outcome:resolved`]),
    );
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 3,
      fields: { title: 'c' },
    });
    const ready = await h.http('GET', '/readyz');
    expect(ready.body.checks).toMatchObject({ 'resolver-consumer': true });
    await subscription.close();
  });

  it('escalates overdue reviews from the background sweeper', async () => {
    // The harness sweeps only on demand; a second module instance with a short interval runs it itself.
    const id = `task-${unique()}`;
    await h.append(budgetConflict(id));
    await waitFor(
      'the pending review',
      async () => (await h.store.getEvent(h.db, `${id}-3`))?.outcome === 'pending_review',
    );
    h.clock.advance(31 * 60_000);
    const { createResolverModule } = await import('../src/index.js');
    const { createMemoryBus } = await import('@concord/bus');
    const { createMetrics } = await import('@concord/service-kit');
    const { silentLogger } = await import('@concord/core');
    const sweeper = createResolverModule({
      db: h.db,
      bus: createMemoryBus(),
      logger: silentLogger,
      metrics: createMetrics('sweeper'),
      policy: h.policy,
      clock: h.clock,
      sweepIntervalMs: 20,
    });
    await sweeper.start();
    try {
      await waitFor(
        'the escalation',
        async () => (await h.store.getEvent(h.db, `${id}-3`))?.outcome === 'resolved',
      );
    } finally {
      await sweeper.close();
    }
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ fields: { budget: 3 } });
  });
});
