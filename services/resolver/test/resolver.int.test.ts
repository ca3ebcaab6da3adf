import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  TEST_POLICY,
  conflictingWrites,
  createHarness,
  ev,
  hlc,
  titleConflict,
  topicsOf,
  unique,
} from './support/harness.js';
import type { Harness } from './support/harness.js';

describe('resolver on Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  it('decides a detected conflict: ledger row, new aggregate version, applied feed row, outcome and messages', async () => {
    const id = `task-${unique()}`;
    await h.append(
      conflictingWrites(
        id,
        { data: { title: 'a', done: false }, hlc: hlc(1) },
        { data: { title: 'b' }, hlc: hlc(2) },
        { data: { title: 'c', done: true }, hlc: hlc(3) },
      ),
    );
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
    await h.append(titleConflict(id));
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
    const conflictRow = await h.module.resolver.conflicts.get(h.db, `${id}-3`);
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
    await h.append(
      conflictingWrites(
        id,
        { data: { title: 'a' } },
        { data: { title: 'b' } },
        { data: { title: 'c' }, metadata: { frozen: 'true' } },
      ),
    );
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

  it('keeps the last good policy on an invalid reload, reports it, and uses a valid new one', async () => {
    const before = h.policy.current().hash;
    await writeFile(h.policyFile, "version: '1.0'\nname: broken\nsettings: { default_fallback: nope }\n");
    expect((await h.policy.reload()).status).toBe('failed');
    const info = await h.http('GET', '/v1/policy');
    expect(info.body.policy).toMatchObject({ name: 'test-policy', hash: before, reloads: { failed: 1 } });
    expect(info.body.policy.lastError.problems[0].path).toBe('settings.default_fallback');

    const id = `task-${unique()}`;
    const conflict = conflictingWrites(
      id,
      { data: { tags: ['a'] } },
      { data: { tags: ['b'] } },
      { data: { tags: ['c'] } },
    );
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
