import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  amountConflict,
  budgetConflict,
  createHarness,
  depositConflict,
  ev,
  topicsOf,
  unique,
} from './support/harness.js';
import type { Harness } from './support/harness.js';

describe('manual review on Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  it('manual review: provisional value applied, listed for review, settled by a human through HTTP', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(amountConflict(id, { amount: 30, memo: 'late' }));
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
    // Written before e2 (earlier HLC), arrived after: first_write_wins picks it.
    await h.append(budgetConflict(id));
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

  it('a rejection at timeout takes the provisional apply back: none of the event’s fields remain', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(depositConflict(id, { deposit: 3, memo: 'third', note: 'new' }));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    // Provisional last_write_wins wrote all of the event: its overlapping deposit and its other fields.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 3,
      fields: { deposit: 3, memo: 'third', note: 'new' },
    });

    h.clock.advance(3_600_000);
    expect(await h.module.sweep()).toBe(1);

    // Back to version 2's values; `note` did not exist then, and a change cannot remove a field.
    const state = await h.store.getAggregate(h.db, 'task', id);
    expect(state).toMatchObject({ version: 4, fields: { deposit: 2, memo: 'first', note: null } });
    expect(await h.replayed('task', id)).toEqual(state?.fields);
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_POLICY_REJECTED' } },
    });
    const reverted = await h.store.getEvent(h.db, `${conflictId}:resolution`);
    expect(reverted?.event).toMatchObject({
      type: 'ConflictReverted',
      data: { deposit: 2, memo: 'first', note: null },
    });
    expect((await h.ledger(conflictId)).map((l) => [l['decided_by'], l['outcome'], l['version']])).toEqual([
      ['policy', 'pending_review', 3],
      ['timeout', 'rejected', 4],
    ]);
  });

  it('a review whose escalation fails is logged and tried again next sweep; the others escalate', async () => {
    const stuck = `task-${unique()}`;
    const other = `task-${unique()}`;
    await h.append(budgetConflict(stuck));
    await h.module.resolver.handleDetected(await h.detected(`${stuck}-3`));
    h.clock.advance(60_000);
    await h.append(budgetConflict(other));
    await h.module.resolver.handleDetected(await h.detected(`${other}-3`));
    // A stored event holding the id of the escalation's change (as one stored before core refused such
    // ids could): escalating the review that is due first fails on it.
    const squatter = `${stuck}-3:resolution`;
    await h.append([ev(`squat-${unique()}`, { id: squatter, data: { x: 1 } })]);

    h.clock.advance(3_600_000);
    expect(await h.module.sweep()).toBe(1);
    expect(await h.store.getEvent(h.db, `${stuck}-3`)).toMatchObject({ outcome: 'pending_review' });
    expect(await h.store.getEvent(h.db, `${other}-3`)).toMatchObject({ outcome: 'resolved' });
    expect(await h.store.getAggregate(h.db, 'task', other)).toMatchObject({ fields: { budget: 3 } });

    await h.db.query(`DELETE FROM concord.events WHERE event_id = $1`, [squatter]);
    expect(await h.module.sweep()).toBe(1);
    expect(await h.store.getEvent(h.db, `${stuck}-3`)).toMatchObject({ outcome: 'resolved' });
  });

  it('answers text and numbers Postgres cannot take with a stable 4xx, never a 500', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(budgetConflict(id));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const after of [cursor([1e300, 'x']), cursor([1.5, 'x']), cursor([0, 'x\u0000'])]) {
      expect(await h.http('GET', `/v1/conflicts?after=${after}`)).toMatchObject({
        status: 400,
        body: { error: { code: 'CONCORD_INVALID_CURSOR' } },
      });
    }
    expect(await h.http('GET', '/v1/conflicts/abc%00')).toMatchObject({
      status: 404,
      body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } },
    });
    expect(
      await h.http('POST', '/v1/conflicts/abc%00/decision', { choose: 'local', userId: 'u1' }),
    ).toMatchObject({
      status: 404,
      body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } },
    });
    for (const body of [
      { userId: 'u1', fields: { budget: { value: 'a\u0000b' } } },
      { userId: 'u\u0000', choose: 'remote' },
      { userId: 'u1', choose: 'remote', note: '\ud800' },
    ]) {
      expect(await h.http('POST', `/v1/conflicts/${conflictId}/decision`, body)).toMatchObject({
        status: 400,
        body: { error: { code: 'CONCORD_DECISION_INVALID' } },
      });
    }
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'pending_review' });
  });
});
