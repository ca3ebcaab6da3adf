import { writeFile } from 'node:fs/promises';
import type { EventEnvelope } from '@concord/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TEST_POLICY, createHarness, hlc, unique, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';

const ev = (
  aggregateId: string,
  partial: Partial<EventEnvelope> & { id: string; data: EventEnvelope['data'] },
) => ({
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId,
  ...partial,
});

const topicsOf = (rows: { topic: string; message_id: string }[]) => rows.map((r) => [r.topic, r.message_id]);

describe('resolver on Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  it('decides a detected conflict: ledger row, new aggregate version, applied feed row, outcome and messages', async () => {
    const id = `task-${unique()}`;
    await h.append([
      ev(id, { id: `${id}-1`, data: { title: 'a', done: false }, hlc: hlc(1) }),
      ev(id, { id: `${id}-2`, data: { title: 'b' }, baseVersion: 1, hlc: hlc(2) }),
      ev(id, { id: `${id}-3`, data: { title: 'c', done: true }, baseVersion: 1, hlc: hlc(3) }),
    ]);
    const conflictId = `${id}-3`;
    expect((await h.store.getEvent(h.db, conflictId))?.outcome).toBe('conflict');

    expect(await h.module.resolver.handleDetected(await h.detected(conflictId))).toBe('decided');

    const ledger = await h.ledger(conflictId);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({
      outcome: 'resolved',
      final: true,
      provisional: false,
      decided_by: 'policy',
      strategy: 'last_write_wins',
      rule: null,
      version: 3,
    });
    expect(ledger[0]?.['record']).toMatchObject({
      conflictId,
      via: 'default_fallback',
      policy: { name: 'test-policy', hash: h.policy.current().hash },
      conflictingEventIds: [`${id}-2`],
      fields: { title: 'c' },
      decidedBy: { kind: 'policy' },
    });

    const state = await h.store.getAggregate(h.db, 'task', id);
    expect(state).toMatchObject({ version: 3, fields: { title: 'c', done: true } });
    expect(state?.fieldVersions['title']).toMatchObject({ version: 3, eventId: conflictId, hlc: hlc(3) });
    expect(await h.replayed('task', id)).toEqual(state?.fields);
    const feed = await h.store.feed(h.db, { limit: 1000 });
    const resolution = feed.events.find((e) => e.event.id === `${conflictId}:resolution`);
    expect(resolution).toMatchObject({
      outcome: 'resolved',
      version: 3,
      event: { type: 'ConflictResolved', aggregateId: id, data: { title: 'c', done: true } },
    });

    const stored = await h.store.getEvent(h.db, conflictId);
    expect(stored).toMatchObject({ outcome: 'resolved', version: 3, conflictId });
    expect(stored?.details).toMatchObject({
      conflictId,
      decision: {
        strategy: 'last_write_wins',
        outcome: 'resolved',
        appliedEventId: `${conflictId}:resolution`,
      },
    });
    expect(stored?.history.map((entry) => entry.outcome)).toEqual(['conflict']);

    const messages = await h.outboxFor(conflictId);
    expect(topicsOf(messages)).toEqual([
      ['concord.conflicts.detected', `${conflictId}:conflict`],
      ['concord.events.outcome', `${conflictId}:outcome:conflict`],
      ['concord.conflicts.resolved', `${conflictId}:resolved`],
      ['concord.events.applied', `${conflictId}:resolution:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:resolved`],
    ]);
    expect(messages[2]?.body).toMatchObject({ kind: 'conflict_resolved', outcome: 'resolved', version: 3 });
    expect(messages[3]?.body).toMatchObject({
      kind: 'applied',
      eventId: conflictId,
      outcome: 'resolved',
      version: 3,
      changes: { title: 'c', done: true },
      state: { fields: { title: 'c', done: true } },
      conflictId,
    });
    expect(messages[3]?.key).toBe(id);
    expect(messages[4]?.body).toMatchObject({ outcome: 'resolved', final: true, version: 3 });
    expect(messages[4]?.key).toBe(conflictId);

    // Redelivery (same message id) and a second message for the same conflict change nothing.
    const again = await h.detected(conflictId);
    expect(await h.module.resolver.handleDetected(again)).toBe('duplicate');
    expect(await h.module.resolver.handleDetected({ ...again, id: `${again.id}-other` })).toBe('duplicate');
    expect(await h.ledger(conflictId)).toHaveLength(1);
    expect((await h.store.getAggregate(h.db, 'task', id))?.version).toBe(3);
    expect(await h.outboxFor(conflictId)).toHaveLength(5);

    const view = await h.http('GET', `/v1/conflicts/${conflictId}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id: conflictId, status: 'resolved', version: 3 });
  });

  it('re-decides against the current state when the aggregate moved after detection', async () => {
    const id = `task-${unique()}`;
    await h.append([
      ev(id, { id: `${id}-1`, data: { title: 'a' }, hlc: hlc(1) }),
      ev(id, { id: `${id}-2`, data: { title: 'b' }, baseVersion: 1, hlc: hlc(2) }),
      ev(id, { id: `${id}-3`, data: { title: 'c' }, baseVersion: 1, hlc: hlc(3) }),
    ]);
    // Detected at version 2 against e2; meanwhile e4 (later HLC) applies at version 3.
    await h.append([ev(id, { id: `${id}-4`, data: { title: 'd' }, baseVersion: 2, hlc: hlc(4) })]);
    expect(await h.module.resolver.handleDetected(await h.detected(`${id}-3`))).toBe('decided');

    const [entry] = await h.ledger(`${id}-3`);
    expect(entry?.['record']).toMatchObject({
      conflictingEventIds: [`${id}-4`],
      fields: { title: 'd' },
      choices: [{ field: 'title', source: 'local', value: 'd' }],
    });
    // Nothing to write: the current value stands, the aggregate keeps version 3.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 3,
      fields: { title: 'd' },
    });
    const stored = await h.store.getEvent(h.db, `${id}-3`);
    expect(stored).toMatchObject({ outcome: 'resolved', version: 3 });
    expect(stored?.details).toMatchObject({ decision: { redecided: true } });
    const conflictRow = await h.module.resolver.repo.get(h.db, `${id}-3`);
    expect(conflictRow?.conflict.currentVersion).toBe(3);
    expect(await h.replayed('task', id)).toEqual({ title: 'd' });
    expect(topicsOf(await h.outboxFor(`${id}-3`)).map(([topic]) => topic)).toEqual([
      'concord.conflicts.detected',
      'concord.events.outcome',
      'concord.conflicts.resolved',
      'concord.events.outcome',
    ]);
  });

  it('rejects when the policy says so: outcome rejected with its code, nothing applied', async () => {
    const id = `task-${unique()}`;
    await h.append([
      ev(id, { id: `${id}-1`, data: { title: 'a' } }),
      ev(id, { id: `${id}-2`, data: { title: 'b' }, baseVersion: 1 }),
      ev(id, { id: `${id}-3`, data: { title: 'c' }, baseVersion: 1, metadata: { frozen: 'true' } }),
    ]);
    await h.module.resolver.handleDetected(await h.detected(`${id}-3`));
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 2,
      fields: { title: 'b' },
    });
    const stored = await h.store.getEvent(h.db, `${id}-3`);
    expect(stored?.outcome).toBe('rejected');
    expect(stored?.details).toMatchObject({ error: { code: 'CONCORD_POLICY_REJECTED' } });
    expect(await h.ledger(`${id}-3`)).toMatchObject([
      { outcome: 'rejected', rule: 'frozen-read-only', version: null },
    ]);
    const messages = await h.outboxFor(`${id}-3`);
    expect(messages.map((m) => m.topic)).not.toContain('concord.events.applied');
    expect(messages.at(-1)?.body).toMatchObject({
      outcome: 'rejected',
      final: true,
      error: { code: 'CONCORD_POLICY_REJECTED', message: 'aggregate is frozen' },
    });
    expect(
      (await h.store.feed(h.db, { limit: 1000 })).events.some((e) => e.event.id.startsWith(`${id}-3:`)),
    ).toBe(false);
  });

  it('manual review: provisional value applied, listed for review, settled by a human through HTTP', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append([
      ev(id, { id: `${id}-1`, data: { amount: 10 }, hlc: hlc(1) }),
      ev(id, { id: `${id}-2`, data: { amount: 20 }, baseVersion: 1, hlc: hlc(2) }),
      ev(id, { id: conflictId, data: { amount: 30, memo: 'late' }, baseVersion: 1, hlc: hlc(3) }),
    ]);
    await h.module.resolver.handleDetected(await h.detected(conflictId));

    // Provisional last_write_wins applied: amount 30 (and memo) at version 3, outcome pending_review.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 3,
      fields: { amount: 30, memo: 'late' },
    });
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'pending_review', version: 3 });
    const [pending] = await h.ledger(conflictId);
    expect(pending).toMatchObject({ outcome: 'pending_review', final: false, provisional: true, version: 3 });
    const due = h.clock.now() + 3_600_000;
    expect(pending?.['record']).toMatchObject({
      review: { provisionalStrategy: 'last_write_wins', dueAt: due },
    });
    const pendingMessages = await h.outboxFor(conflictId);
    expect(topicsOf(pendingMessages).slice(2)).toEqual([
      ['concord.conflicts.resolved', `${conflictId}:pending_review`],
      ['concord.events.applied', `${conflictId}:provisional:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:pending_review`],
    ]);
    expect(pendingMessages.at(-1)?.body).toMatchObject({ outcome: 'pending_review', final: false });

    const list = await h.http('GET', '/v1/conflicts?status=pending_review&limit=100');
    expect(list.status).toBe(200);
    const listed = (list.body.conflicts as { id: string }[]).find((c: { id: string }) => c.id === conflictId);
    expect(listed).toMatchObject({
      status: 'pending_review',
      rule: 'review-amount',
      fields: ['amount'],
      review: { dueAt: new Date(due).toISOString(), provisional: true },
    });
    const detail = await h.http('GET', `/v1/conflicts/${conflictId}`);
    expect(detail.body).toMatchObject({
      status: 'pending_review',
      explanation: {
        via: 'rule',
        rule: 'review-amount',
        strategy: 'manual_review',
        conditions: ['fields overlap any of [amount]'],
        choices: [{ field: 'amount', source: 'remote', value: 30 }],
      },
      conflict: { overlappingFields: ['amount'], local: { amount: { value: 20 } } },
    });
    expect(
      (detail.body.explanation.skipped as { name: string }[]).map((s: { name: string }) => s.name),
    ).toEqual(['frozen-read-only']);

    // Invalid, unknown and unknown-field decisions.
    const bad = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, { choose: 'mine' });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'CONCORD_DECISION_INVALID' } } });
    const field = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      fields: { memo: 'remote' },
      userId: 'u1',
    });
    expect(field).toMatchObject({ status: 400, body: { error: { code: 'CONCORD_DECISION_UNKNOWN_FIELD' } } });
    const missing = await h.http('POST', `/v1/conflicts/nope-${unique()}/decision`, {
      choose: 'local',
      userId: 'u1',
    });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } } });

    h.clock.advance(60_000);
    const decided = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      choose: 'local',
      userId: 'u1',
      note: 'ERP value is right',
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ id: conflictId, status: 'resolved', version: 4 });
    expect(
      (decided.body.decisions as { decidedBy: string; outcome: string }[]).map(
        (d: { decidedBy: string; outcome: string }) => [d.decidedBy, d.outcome],
      ),
    ).toEqual([
      ['policy', 'pending_review'],
      ['human', 'resolved'],
    ]);

    // The human choice reverts the provisional value; the event's other field stays.
    const state = await h.store.getAggregate(h.db, 'task', id);
    expect(state).toMatchObject({ version: 4, fields: { amount: 20, memo: 'late' } });
    expect(await h.replayed('task', id)).toEqual(state?.fields);
    const ledger = await h.ledger(conflictId);
    expect(ledger[1]).toMatchObject({
      outcome: 'resolved',
      final: true,
      decided_by: 'human',
      user_id: 'u1',
      version: 4,
    });
    expect(ledger[1]?.['record']).toMatchObject({
      decidedBy: { kind: 'human', userId: 'u1', note: 'ERP value is right' },
      fields: { amount: 20 },
      rule: 'review-amount',
    });
    const stored = await h.store.getEvent(h.db, conflictId);
    expect(stored).toMatchObject({ outcome: 'resolved', version: 4 });
    expect(stored?.details).toMatchObject({ decision: { decidedBy: { kind: 'human', userId: 'u1' } } });
    expect(stored?.history.map((entry) => entry.outcome)).toEqual(['conflict', 'pending_review']);
    const messages = await h.outboxFor(conflictId);
    expect(topicsOf(messages).slice(5)).toEqual([
      ['concord.conflicts.resolved', `${conflictId}:resolved`],
      ['concord.events.applied', `${conflictId}:resolution:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:resolved`],
    ]);
    expect(messages[6]?.body).toMatchObject({
      changes: { amount: 20 },
      version: 4,
      state: { fields: { amount: 20 } },
    });

    const again = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      choose: 'remote',
      userId: 'u2',
    });
    expect(again).toMatchObject({
      status: 409,
      body: { error: { code: 'CONCORD_CONFLICT_ALREADY_DECIDED' } },
    });
    const resolvedList = await h.http('GET', '/v1/conflicts?status=resolved&limit=500');
    expect((resolvedList.body.conflicts as { id: string }[]).map((c: { id: string }) => c.id)).toContain(
      conflictId,
    );
    expect((await h.http('GET', '/v1/conflicts?status=bogus')).body.error.code).toBe('CONCORD_QUERY_INVALID');
  });

  it('escalates an overdue review to the rule’s on_timeout strategy (injected clock)', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append([
      ev(id, { id: `${id}-1`, data: { budget: 1 }, hlc: hlc(10) }),
      ev(id, { id: `${id}-2`, data: { budget: 2 }, baseVersion: 1, hlc: hlc(30) }),
      // Written before e2 (earlier HLC), arrived after: first_write_wins picks it.
      ev(id, { id: conflictId, data: { budget: 3 }, baseVersion: 1, hlc: hlc(20) }),
    ]);
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    // No provisional strategy: nothing applied while the review is open.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ version: 2, fields: { budget: 2 } });
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'pending_review', version: 2 });

    h.clock.advance(29 * 60_000);
    expect(await h.module.sweep()).toBe(0);
    h.clock.advance(2 * 60_000);
    expect(await h.module.sweep()).toBe(1);
    expect(await h.module.sweep()).toBe(0);

    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ version: 3, fields: { budget: 3 } });
    const ledger = await h.ledger(conflictId);
    expect(ledger.map((l) => [l['decided_by'], l['outcome'], l['strategy']])).toEqual([
      ['policy', 'pending_review', 'manual_review'],
      ['timeout', 'resolved', 'first_write_wins'],
    ]);
    const reasons = (ledger[1]?.['record'] as { reasons: string[] }).reasons.join(' | ');
    expect(reasons).toContain('review timed out');
    expect(reasons).toContain('escalated to finance');
    expect(reasons).toContain('first_write_wins (on_timeout)');
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'resolved', version: 3 });
    expect(await h.replayed('task', id)).toEqual({ budget: 3 });
    expect((await h.outboxFor(conflictId)).at(-1)?.body).toMatchObject({ outcome: 'resolved', final: true });
  });

  it('keeps the last good policy on an invalid reload, reports it, and uses a valid new one', async () => {
    const before = h.policy.current().hash;
    await writeFile(h.policyFile, "version: '1.0'\nname: broken\nsettings: { default_fallback: nope }\n");
    expect((await h.policy.reload()).status).toBe('failed');
    const info = await h.http('GET', '/v1/policy');
    expect(info.body.policy).toMatchObject({ name: 'test-policy', hash: before, reloads: { failed: 1 } });
    expect(info.body.policy.lastError.problems[0].path).toBe('settings.default_fallback');

    const id = `task-${unique()}`;
    const conflict = [
      ev(id, { id: `${id}-1`, data: { tags: ['a'] } }),
      ev(id, { id: `${id}-2`, data: { tags: ['b'] }, baseVersion: 1 }),
      ev(id, { id: `${id}-3`, data: { tags: ['c'] }, baseVersion: 1 }),
    ];
    await h.append(conflict);
    await h.module.resolver.handleDetected(await h.detected(`${id}-3`));
    expect((await h.ledger(`${id}-3`))[0]).toMatchObject({ rule: 'tags-union', strategy: 'additive_merge' });
    expect((await h.store.getAggregate(h.db, 'task', id))?.fields['tags']).toEqual(['b', 'c']);

    await writeFile(h.policyFile, TEST_POLICY.replace('name: test-policy', 'name: test-policy-2'));
    expect((await h.policy.reload()).status).toBe('loaded');
    const id2 = `task-${unique()}`;
    await h.append([
      ev(id2, { id: `${id2}-1`, data: { title: 'a' } }),
      ev(id2, { id: `${id2}-2`, data: { title: 'b' }, baseVersion: 1 }),
      ev(id2, { id: `${id2}-3`, data: { title: 'c' }, baseVersion: 1 }),
    ]);
    await h.module.resolver.handleDetected(await h.detected(`${id2}-3`));
    expect((await h.ledger(`${id2}-3`))[0]?.['record']).toMatchObject({ policy: { name: 'test-policy-2' } });

    const metrics = await h.http('GET', '/metrics');
    expect(metrics.body).toContain(
      'concord_resolver_policy_reloads_total{result="failed",service="resolver-test"} 1',
    );
    expect(metrics.body).toContain(
      'concord_resolver_policy_reloads_total{result="ok",service="resolver-test"} 1',
    );
    expect(metrics.body).toMatch(/concord_resolver_policy_info\{name="test-policy-2"/);
    expect(metrics.body).toMatch(/concord_resolver_conflicts_total\{[^}]*rule="tags-union"[^}]*\} 1/);
    expect(metrics.body).toMatch(/concord_resolver_review_queue_depth\{[^}]*\} \d+/);
    expect(metrics.body).toContain('concord_resolver_decision_latency_seconds_count');
  });
});

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
    await h.append([
      ev(id, { id: `${id}-1`, data: { title: 'a' }, hlc: hlc(1) }),
      ev(id, { id: `${id}-2`, data: { title: 'b' }, baseVersion: 1, hlc: hlc(2) }),
      ev(id, { id: `${id}-3`, data: { title: 'c' }, baseVersion: 1, hlc: hlc(3) }),
    ]);
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
    await h.append([
      ev(id, { id: `${id}-1`, data: { budget: 1 }, hlc: hlc(10) }),
      ev(id, { id: `${id}-2`, data: { budget: 2 }, baseVersion: 1, hlc: hlc(30) }),
      ev(id, { id: `${id}-3`, data: { budget: 3 }, baseVersion: 1, hlc: hlc(20) }),
    ]);
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
