import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { amountConflict, createHarness, titleConflict, unique } from './support/harness.js';
import type { Harness } from './support/harness.js';

/** The harness's policy with `titles-first` on top: title conflicts go to first_write_wins. */
const CANDIDATE = `version: '1.0'
name: candidate
settings: { default_fallback: last_write_wins }
rules:
  - name: titles-first
    priority: 50
    conditions: { fields: [title] }
    resolution: { strategy: first_write_wins }
  - name: review-amount
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { provisional: last_write_wins, timeout: 1h } }
`;

describe('policy dry run over recorded conflicts', () => {
  let h: Harness;
  let titles: string[];
  let amount: string;

  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
    const prefix = `dry-${unique()}`;
    titles = [1, 2, 3].map((n) => `${prefix}-t${n}`);
    amount = `${prefix}-a`;
    for (const id of titles) await h.append(titleConflict(id));
    await h.append(amountConflict(amount));
    for (const id of [...titles, amount]) await h.module.resolver.handleDetected(await h.detected(`${id}-3`));
  });
  afterAll(() => h.close());

  const dryRun = async (body: string, query = '', contentType = 'application/yaml') => {
    const response = await fetch(`${h.service.url}/v1/policy/dry-run${query}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('re-decides every recorded conflict in pages and lists what the candidate changes', async () => {
    const ledgerBefore = await h.db.query('SELECT count(*)::int AS n FROM concord.resolution_ledger');
    const { status, body } = await dryRun(CANDIDATE);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      policy: { name: 'candidate' },
      conflicts: 4,
      changed: 3,
      byRule: { 'review-amount': 1, 'titles-first': 3 },
      truncated: false,
    });
    const changes = body['changes'] as { conflictId: string; before: unknown; after: unknown }[];
    expect(changes.map((c) => c.conflictId).sort()).toEqual(titles.map((id) => `${id}-3`).sort());
    expect(changes[0]).toMatchObject({
      before: { rule: null, strategy: 'last_write_wins', outcome: 'resolved' },
      after: { rule: 'titles-first', strategy: 'first_write_wins', outcome: 'resolved' },
    });
    // Nothing is written.
    const ledgerAfter = await h.db.query('SELECT count(*)::int AS n FROM concord.resolution_ledger');
    expect(ledgerAfter.rows).toEqual(ledgerBefore.rows);
  });

  it('takes a JSON document too, and honours limit and changes', async () => {
    const { status, body } = await dryRun(
      JSON.stringify({
        version: '1.0',
        name: 'strict',
        settings: { default_fallback: 'reject' },
      }),
      '?limit=2&changes=1',
      'application/json',
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ conflicts: 2, changed: 2, truncated: true });
    expect(body['changes']).toHaveLength(1);
  });

  it('answers only conflicts recorded since a given instant', async () => {
    const { body } = await dryRun(CANDIDATE, `?since=${encodeURIComponent('2999-01-01T00:00:00Z')}`);
    expect(body).toMatchObject({ conflicts: 0, changed: 0, changes: [] });
  });

  it('refuses an invalid candidate with every problem and its path, and bad parameters', async () => {
    const invalid = await dryRun('rules:\n  - name: x\n    resolution: { strategy: no_such }\n  - name: y\n');
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: { code: 'CONCORD_POLICY_INVALID' } });
    const problems = (invalid.body['error'] as { details: { problems: { path: string }[] } }).details
      .problems;
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.map((p) => p.path)).toEqual(
      expect.arrayContaining([expect.stringContaining('rules[0]'), expect.stringContaining('rules[1]')]),
    );
    expect((await dryRun(CANDIDATE, '?limit=0')).body).toMatchObject({
      error: { code: 'CONCORD_QUERY_INVALID' },
    });
    expect((await dryRun(CANDIDATE, '?since=yesterday')).body).toMatchObject({
      error: { code: 'CONCORD_QUERY_INVALID' },
    });
  });
});
