import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { amountConflict, createHarness, unique } from './support/harness.js';
import type { Harness } from './support/harness.js';

/** A person's decision whose result would make a message larger than the bus carries (DESIGN §2). */
describe('a decision too large for a message', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  it('is refused with 413 CONCORD_AGGREGATE_TOO_LARGE, writes nothing and leaves the review open', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(amountConflict(id));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    const before = await h.ledger(conflictId);
    // The applied message carries the change and the whole state after it: twice 600 KB.
    const huge = 'x'.repeat(600_000);
    const answer = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      fields: { amount: { value: huge } },
      userId: 'reviewer',
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ error: { code: 'CONCORD_AGGREGATE_TOO_LARGE' } });
    expect(await h.ledger(conflictId)).toHaveLength(before.length);
    expect((await h.http('GET', `/v1/conflicts/${conflictId}`)).body).toMatchObject({
      status: 'pending_review',
    });
    // A decision that fits still settles it.
    const settled = await h.http('POST', `/v1/conflicts/${conflictId}/decision`, {
      fields: { amount: { value: 25 } },
      userId: 'reviewer',
    });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ status: 'resolved' });
  });
});
