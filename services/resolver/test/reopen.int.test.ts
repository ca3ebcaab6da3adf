import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHarness, titleConflict, topicsOf, unique } from './support/harness.js';
import type { Harness } from './support/harness.js';

/** Ledger rows as [decided_by, outcome, round, version]. */
const ledgerOf = async (h: Harness, conflictId: string) => {
  const { rows } = await h.db.query<{ decided_by: string; outcome: string; round: number; version: number }>(
    `SELECT decided_by, outcome, round, version::float8 AS version
     FROM concord.resolution_ledger WHERE conflict_id = $1 ORDER BY id`,
    [conflictId],
  );
  return rows.map((r) => [r.decided_by, r.outcome, r.round, r.version]);
};

describe('reopening a decided conflict on Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  /** A title conflict last_write_wins decided for `<id>-3` ('c') at version 3. */
  const decided = async (): Promise<{ id: string; conflictId: string }> => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(titleConflict(id));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 3,
      fields: { title: 'c' },
    });
    return { id, conflictId };
  };

  it('puts a decision back into review as a new version, records the reversal, and settles it in its round', async () => {
    const { id, conflictId } = await decided();
    h.clock.advance(1_000);
    const reopened = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'the customer says b was right',
      userId: 'ops-1',
    });
    expect(reopened.status).toBe(200);
    const due = h.clock.now() + 24 * 3_600_000;
    expect(reopened.body).toMatchObject({
      status: 'pending_review',
      version: 4,
      review: { dueAt: new Date(due).toISOString(), provisional: true },
    });
    expect((reopened.body.decisions as unknown[]).at(-1)).toMatchObject({
      decidedBy: 'reopen',
      userId: 'ops-1',
      outcome: 'pending_review',
      round: 1,
      reopen: {
        round: 1,
        userId: 'ops-1',
        reason: 'the customer says b was right',
        mode: 'review',
        at: new Date(h.clock.now()).toISOString(),
        before: { outcome: 'resolved', strategy: 'last_write_wins', version: 3, fields: { title: 'c' } },
        after: { outcome: 'pending_review', strategy: 'manual_review', version: 4, fields: { title: 'c' } },
      },
    });
    // A version of its own that changes no field; history keeps the resolution before it.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 4,
      fields: { title: 'c' },
    });
    expect(await h.store.getEvent(h.db, `${conflictId}:resolution`)).toMatchObject({ version: 3 });
    expect(await h.store.getEvent(h.db, `${conflictId}:reopen:1`)).toMatchObject({
      event: { type: 'ConflictReopened', data: {} },
      outcome: 'pending_review',
      version: 4,
    });
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'pending_review', version: 4 });
    // Messages of round 1: not taken for redeliveries of round 0's.
    expect(topicsOf(await h.outboxFor(conflictId)).slice(-3)).toEqual([
      ['concord.conflicts.resolved', `${conflictId}:pending_review:1`],
      ['concord.events.applied', `${conflictId}:reopen:1:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:pending_review:1`],
    ]);

    // In review: a second reopen is refused; a person decides.
    const twice = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'again',
      userId: 'ops-1',
    });
    expect(twice).toMatchObject({
      status: 409,
      body: { error: { code: 'CONCORD_CONFLICT_PENDING_REVIEW' } },
    });
    const settled = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      choose: 'local',
      userId: 'u1',
    });
    expect(settled.body).toMatchObject({ status: 'resolved', version: 5 });
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 5,
      fields: { title: 'b' },
    });
    expect(await h.store.getEvent(h.db, `${conflictId}:review:1`)).toMatchObject({ version: 5 });
    expect(topicsOf(await h.outboxFor(conflictId)).slice(-3)).toEqual([
      ['concord.conflicts.resolved', `${conflictId}:resolved:1`],
      ['concord.events.applied', `${conflictId}:review:1:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:resolved:1`],
    ]);

    // Reopened again and re-decided at once by the policy in force: round 2, last_write_wins picks c.
    const redecided = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'b was wrong after all',
      userId: 'ops-2',
      policy: 'current',
    });
    expect(redecided.body).toMatchObject({ status: 'resolved', version: 6, strategy: 'last_write_wins' });
    expect((redecided.body.decisions as unknown[]).at(-1)).toMatchObject({
      round: 2,
      reopen: {
        mode: 'current',
        before: { outcome: 'resolved', strategy: 'manual_review', version: 5, fields: { title: 'b' } },
        after: { outcome: 'resolved', strategy: 'last_write_wins', version: 6, fields: { title: 'c' } },
      },
    });
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 6,
      fields: { title: 'c' },
    });
    expect(await h.replayed('task', id)).toEqual({ title: 'c' });
    expect(await ledgerOf(h, conflictId)).toEqual([
      ['policy', 'resolved', 0, 3],
      ['reopen', 'pending_review', 1, 4],
      ['human', 'resolved', 1, 5],
      ['reopen', 'resolved', 2, 6],
    ]);
    expect(topicsOf(await h.outboxFor(conflictId)).slice(-3)).toEqual([
      ['concord.conflicts.resolved', `${conflictId}:resolved:2`],
      ['concord.events.applied', `${conflictId}:reopen:2:applied`],
      ['concord.events.outcome', `${conflictId}:outcome:resolved:2`],
    ]);
  });

  it('re-decides at once by a policy given inline: a rejection takes the event back', async () => {
    const { id, conflictId } = await decided();
    const rejected = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'titles are frozen',
      userId: 'ops-1',
      policy: {
        version: '1.0',
        name: 'frozen',
        rules: [{ name: 'freeze', resolution: { strategy: 'reject', options: { reason: 'frozen' } } }],
      },
    });
    expect(rejected.body).toMatchObject({ status: 'rejected', rule: 'freeze', version: 4 });
    expect(rejected.body.decision).toMatchObject({ policy: { name: 'frozen' }, outcome: 'rejected' });
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 4,
      fields: { title: 'b' },
    });
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'rejected' });
  });

  it('reopens into the review the policy asks for, escalating at its timeout in the reopen’s round', async () => {
    const { id, conflictId } = await decided();
    const reviewing = {
      version: '1.0',
      name: 'review-titles',
      rules: [
        {
          name: 'review-titles',
          resolution: {
            strategy: 'manual_review',
            options: { provisional: 'last_write_wins', timeout: '2h', on_timeout: 'first_write_wins' },
          },
        },
      ],
    };
    const reopened = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'needs a look',
      userId: 'ops-1',
      policy: reviewing,
    });
    expect(reopened.body).toMatchObject({
      status: 'pending_review',
      rule: 'review-titles',
      review: { dueAt: new Date(h.clock.now() + 7_200_000).toISOString() },
    });
    // The values that stand are the review's: no provisional strategy re-applies.
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 4,
      fields: { title: 'c' },
    });
    h.clock.advance(7_200_001);
    // The policy in force has no such rule; the review kept the inline policy's on_timeout, so
    // first_write_wins (b, the earlier write) decides.
    expect(await h.module.sweep()).toBeGreaterThanOrEqual(1);
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 5,
      fields: { title: 'b' },
    });
    expect(await h.store.getEvent(h.db, `${conflictId}:review:1`)).toMatchObject({ version: 5 });
    expect(await ledgerOf(h, conflictId)).toEqual([
      ['policy', 'resolved', 0, 3],
      ['reopen', 'pending_review', 1, 4],
      ['timeout', 'resolved', 1, 5],
    ]);
  });

  it('answers an unknown conflict 404 and a bad body 400 with every problem', async () => {
    const missing = await h.http('POST', `/v1/conflicts/nope-${unique()}/reopen`, {
      reason: 'x',
      userId: 'u',
    });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } } });
    const { conflictId } = await decided();
    const bad = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: '',
      extra: 1,
      policy: { version: '1.0', name: 'p', rules: [{ name: 'r', resolution: { strategy: 'no_such' } }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('CONCORD_REOPEN_INVALID');
    const paths = (bad.body.error.details.problems as { path: string }[]).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['extra', 'userId', 'reason']));
    expect(paths.some((p) => p.startsWith('policy.rules'))).toBe(true);
    const word = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'x',
      userId: 'u',
      policy: 'latest',
    });
    expect(word.body.error).toMatchObject({
      code: 'CONCORD_REOPEN_INVALID',
      details: { problems: [{ path: 'policy' }] },
    });
    const nul = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, {
      reason: 'a\u0000b',
      userId: 'u',
    });
    expect(nul).toMatchObject({ status: 400, body: { error: { code: 'CONCORD_REOPEN_INVALID' } } });
    // Nothing was written by the refused requests.
    expect(await ledgerOf(h, conflictId)).toEqual([['policy', 'resolved', 0, 3]]);
  });

  it('refuses a reopen past the last round whose ids fit the bus', async () => {
    const { id, conflictId } = await decided();
    await h.db.query(`UPDATE concord.conflicts SET reopens = 9999 WHERE conflict_id = $1`, [conflictId]);
    const refused = await h.http('POST', `/v1/conflicts/${conflictId}/reopen`, { reason: 'x', userId: 'u' });
    expect(refused).toMatchObject({
      status: 409,
      body: { error: { code: 'CONCORD_CONFLICT_REOPEN_LIMIT', details: { reopens: 9999 } } },
    });
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ version: 3 });
  });
});
