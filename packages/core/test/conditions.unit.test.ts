import { readFile } from 'node:fs/promises';
import { scopeId } from '@concord/core/envelope';
import { loadPolicy, loadPolicyOrThrow } from '@concord/core/policy';
import { scalarText } from '../src/spec/side.js';
import { describe, expect, it } from 'vitest';
import { hlc, makeConflict } from './support.js';

describe('metadata conditions compare scalars as text, and say so', () => {
  const policy = loadPolicyOrThrow(`
rules:
  - name: legal-hold
    conditions: { metadata: { legalHold: 'true' } }
    resolution: { strategy: reject }
  - name: tier
    conditions: { metadata: { tier: [2, premium] } }
    resolution: { strategy: fww }
`);

  it('one rule for every JSON scalar: a string is itself, numbers and booleans as JSON writes them', () => {
    expect([scalarText('true'), scalarText(true), scalarText(5), scalarText(2.5)]).toEqual([
      'true',
      'true',
      '5',
      '2.5',
    ]);
    expect([scalarText(null), scalarText({}), scalarText([]), scalarText(Number.NaN)]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('matches a boolean true against a rule written "true", and a string "2" against 2', () => {
    const hold = makeConflict({ event: { metadata: { legalHold: true } } });
    expect(policy.decide(hold)).toMatchObject({ rule: 'legal-hold', outcome: 'rejected' });
    const tier = makeConflict({ event: { metadata: { tier: '2' } } });
    expect(policy.decide(tier)).toMatchObject({ rule: 'tier' });
    const nested = makeConflict({ event: { metadata: { legalHold: { value: true } } } });
    expect(policy.decide(nested).rule).toBeUndefined();
  });

  it('prints typed values in explanations', () => {
    const none = policy.decide(makeConflict({ event: { metadata: { legalHold: false } } }));
    expect(none.explanation.skipped.map((s) => s.condition)).toEqual([
      'metadata.legalHold in ["true"]',
      'metadata.tier in [2, "premium"]',
    ]);
  });
});

describe('conditions on either side of a conflict', () => {
  const price = (incoming: string | undefined, stored: string | undefined) =>
    makeConflict({
      event: {
        type: 'ProductUpdated',
        hlc: hlc(2, 'b'),
        ...(incoming === undefined ? {} : { metadata: { source: incoming } }),
      },
      remote: { price: 12 },
      local: { price: { value: 10, hlc: hlc(1, 'a'), ...(stored === undefined ? {} : { source: stored }) } },
    });

  it('tests the stored side (the writes that set the overlapping fields) or either side', () => {
    const stored = loadPolicyOrThrow(`
rules:
  - name: erp
    conditions: { metadata: { source: erp }, side: stored }
    resolution: { strategy: fww }
`);
    expect(stored.decide(price('mobile', 'erp')).rule).toBe('erp');
    expect(stored.decide(price('erp', 'mobile')).rule).toBeUndefined();
    const either = loadPolicyOrThrow(`
rules:
  - name: erp
    conditions: { metadata: { source: erp }, origins: [x], side: either }
    resolution: { strategy: fww }
`);
    const skipped = either.decide(price('erp', 'mobile')).explanation.skipped.map((s) => s.condition);
    expect(skipped).toEqual([`either side's origins in ["x"]`]);
  });

  it('refuses a stored-side metadata key other than source, and an unknown side', () => {
    const result = loadPolicy(`
rules:
  - name: r
    conditions: { metadata: { tenant: acme }, side: stored }
    resolution: { strategy: fww }
  - name: s
    conditions: { side: remote }
    resolution: { strategy: fww }
`);
    expect(result.ok ? [] : result.problems).toEqual([
      { path: 'rules[1].conditions.side', message: 'must be one of incoming, stored, either' },
      {
        path: 'rules[0].conditions.metadata.tenant',
        message: expect.stringContaining('the stored side keeps only metadata.source') as string,
      },
    ]);
  });

  it("the bundled example keeps ERP's price whichever side ERP is on", async () => {
    const example = loadPolicyOrThrow(
      await readFile(new URL('../policies/example.yaml', import.meta.url), 'utf8'),
    );
    // A later mobile write against the price ERP set: ERP's stays.
    expect(example.decide(price('mobile', 'erp'))).toMatchObject({
      rule: 'erp-owns-price',
      result: { fields: { price: 10 } },
    });
    // An ERP write against a mobile price: ERP's wins.
    expect(example.decide(price('erp', 'mobile'))).toMatchObject({
      rule: 'erp-owns-price',
      result: { fields: { price: 12 } },
    });
  });
});

describe('aggregate_ids match the id a tenant knows, not its scoped id', () => {
  const policy = loadPolicyOrThrow(`
rules:
  - name: exact
    priority: 30
    conditions: { aggregate_ids: [task-1] }
    resolution: { strategy: reject }
  - name: glob
    priority: 20
    conditions: { aggregate_ids: ['task-*'] }
    resolution: { strategy: fww }
  - name: regex
    priority: 10
    conditions: { aggregate_ids: ['re:^note-\\d+$'] }
    resolution: { strategy: fww }
  - name: prefix
    priority: 5
    conditions: { aggregate_ids: ['acme*'] }
    resolution: { strategy: fww }
`);
  const onAggregate = (aggregateId: string) => makeConflict({ event: { aggregateId } });

  it('matches exact ids, globs and regexes in every tenant as in the default one', () => {
    for (const tenant of [undefined, 'acme', 'globex']) {
      expect(policy.decide(onAggregate(scopeId(tenant, 'task-1'))).rule, tenant).toBe('exact');
      expect(policy.decide(onAggregate(scopeId(tenant, 'task-2'))).rule, tenant).toBe('glob');
      expect(policy.decide(onAggregate(scopeId(tenant, 'note-7'))).rule, tenant).toBe('regex');
    }
  });

  it("never sees a tenant's prefix", () => {
    expect(policy.decide(onAggregate(scopeId('acme', 'other'))).rule).toBeUndefined();
    expect(policy.decide(onAggregate('acme-1')).rule).toBe('prefix');
  });
});
