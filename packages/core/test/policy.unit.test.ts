import { describe, expect, it } from 'vitest';
import { createDecisionRecord, resolutionChanges } from '@concord/core/decision';
import {
  formatPolicyProblems,
  loadPolicy,
  loadPolicyOrThrow,
  type CompiledPolicy,
} from '@concord/core/policy';
import { NoRuleMatchedError, requireRuleMatch } from '../src/policy/compile.js';
import { manualClock } from '@concord/core/testing';
import { hlc, makeConflict } from './support.js';

const load = (text: string): CompiledPolicy => loadPolicyOrThrow(text);
const task = (over: Parameters<typeof makeConflict>[0] = {}) => makeConflict(over);

describe('evaluation order', () => {
  it('first match wins after sorting by priority; ties in file order; rules before groups', () => {
    const p = load(`
rules:
  - { name: low, conditions: { event_types: [TaskUpdated] }, resolution: { strategy: fww } }
  - { name: high, priority: 10, conditions: { event_types: [TaskUpdated] }, resolution: { strategy: lww } }
  - { name: high-too, priority: 10, conditions: { event_types: [TaskUpdated] }, resolution: { strategy: merge } }
groups:
  - name: g
    priority: 10
    rules: [{ name: in-group, resolution: { strategy: reject } }]
`);
    const d = p.decide(task());
    expect(d).toMatchObject({ via: 'rule', rule: 'high', strategy: 'last_write_wins', outcome: 'resolved' });
    expect(d.explanation.conditions).toEqual(['event_types in [TaskUpdated]']);
    const p2 = load(`
rules:
  - { name: r, conditions: { event_types: [TaskUpdated] }, resolution: { strategy: fww } }
groups:
  - { name: g, priority: 1, rules: [{ name: in-group, resolution: { strategy: reject } }] }
`);
    expect(p2.decide(task())).toMatchObject({ rule: 'in-group', group: 'g', outcome: 'rejected' });
  });

  it('explains skipped rules and why, and the per-field choices', () => {
    const p = load(`
rules:
  - { name: off, enabled: false, resolution: { strategy: reject } }
  - { name: price, conditions: { event_types: [TaskUpdated], fields: [price] }, resolution: { strategy: reject } }
  - { name: title, conditions: { fields: [title] }, resolution: { strategy: lww } }
`);
    const d = p.decide(task({ event: { hlc: hlc(5) } }));
    expect(d.rule).toBe('title');
    expect(d.explanation.skipped).toEqual([
      { kind: 'rule', name: 'off', reason: 'disabled' },
      {
        kind: 'rule',
        name: 'price',
        reason: 'conditions_not_met',
        condition: 'fields overlap any of [price]',
      },
    ]);
    expect(d.explanation.choices).toEqual([
      expect.objectContaining({ field: 'title', source: 'remote', value: 'remote' }),
    ]);
  });

  it('ORs entries inside a list and ANDs across conditions', () => {
    const p = load(`
rules:
  - name: both
    conditions: { event_types: [Nope, TaskUpdated], aggregate_types: [task], metadata: { source: [erp, admin] } }
    resolution: { strategy: reject }
settings: { default_fallback: lww }
`);
    expect(p.decide(task({ event: { metadata: { source: 'admin' } } })).rule).toBe('both');
    expect(p.decide(task({ event: { metadata: { source: 'mobile' } } })).via).toBe('default_fallback');
    expect(p.decide(task({ event: { type: 'Other', metadata: { source: 'erp' } } })).via).toBe(
      'default_fallback',
    );
  });

  it('matches glob and regex aggregate ids', () => {
    const p = load(`
rules:
  - { name: re, conditions: { aggregate_ids: ["re:^note-\\\\d+$"] }, resolution: { strategy: fww } }
  - { name: glob, conditions: { aggregate_ids: ["note-*"] }, resolution: { strategy: lww } }
`);
    expect(p.decide(task({ event: { aggregateId: 'note-42' } })).rule).toBe('re');
    expect(p.decide(task({ event: { aggregateId: 'note-x' } })).rule).toBe('glob');
    expect(p.decide(task({ event: { aggregateId: 'task-1' } })).via).toBe('no_match');
  });
});

describe('fallbacks', () => {
  const p = load(`
settings: { default_fallback: { strategy: fww } }
groups:
  - name: outer
    conditions: { aggregate_types: [task] }
    fallback: manual
    groups:
      - name: inner
        conditions: { fields: [status] }
        fallback: { strategy: reject, options: { reason: status is owned by the workflow } }
        rules: [{ name: never, conditions: { event_types: [Nope] }, resolution: { strategy: lww } }]
      - name: no-fallback
        rules: [{ name: never-2, conditions: { event_types: [Nope] }, resolution: { strategy: lww } }]
  - name: disabled
    enabled: false
    fallback: lww
`);

  it('uses the innermost group fallback', () => {
    const d = p.decide(task({ remote: { status: 'x' }, local: { status: { value: 'y' } } }));
    expect(d).toMatchObject({ via: 'group_fallback', group: 'outer/inner', outcome: 'rejected' });
    expect(d.explanation.conditions).toEqual(['aggregate_types in [task]', 'fields overlap any of [status]']);
    expect(d.result.rejection?.reason).toBe('status is owned by the workflow');
  });

  it('continues past a group without fallback, then uses the outer fallback', () => {
    const d = p.decide(task());
    expect(d).toMatchObject({
      via: 'group_fallback',
      group: 'outer',
      strategy: 'manual_review',
      outcome: 'pending_review',
    });
    expect(d.explanation.skipped).toEqual([
      {
        kind: 'group',
        name: 'inner',
        group: 'outer',
        reason: 'conditions_not_met',
        condition: 'fields overlap any of [status]',
      },
      {
        kind: 'rule',
        name: 'never-2',
        group: 'outer/no-fallback',
        reason: 'conditions_not_met',
        condition: 'event_types in [Nope]',
      },
      { kind: 'group', name: 'no-fallback', group: 'outer', reason: 'no_rule_matched_in_group' },
    ]);
  });

  it('uses default_fallback when no group applies; disabled groups are skipped', () => {
    const d = p.decide(task({ event: { aggregateType: 'order' } }));
    expect(d).toMatchObject({ via: 'default_fallback', strategy: 'first_write_wins' });
    expect(d.explanation.skipped.map((s) => `${s.name}:${s.reason}`)).toEqual([
      'outer:conditions_not_met',
      'disabled:disabled',
    ]);
  });

  it('sends an unmatched conflict without fallback to manual review (no_rule_matched), or throws the typed error', () => {
    const strict = load(
      `rules: [{ name: r, conditions: { event_types: [Nope] }, resolution: { strategy: lww } }]`,
    );
    const d = strict.decide(task());
    expect(d).toMatchObject({
      via: 'no_match',
      reason: 'no_rule_matched',
      outcome: 'pending_review',
      strategy: 'manual_review',
    });
    expect(d.result.fields).toEqual({ title: 'local' });
    expect(() => requireRuleMatch({ policy: strict, conflict: task() })).toThrowError(NoRuleMatchedError);
    expect(requireRuleMatch({ policy: p, conflict: task() }).via).toBe('group_fallback');
  });
});

describe('loader', () => {
  it('reports every problem with its path', () => {
    const result = loadPolicy(`
name: broken
rules:
  - name: a
    resolution: { strategy: lww }
  - name: a
    prority: 3
    resolution: { strategy: lww }
  - name: c
    conditions: { aggregate_ids: ["re:("], colour: [red], fields: [] }
    resolution: { strategy: lastwrite }
  - name: d
    enabled: "yes"
    resolution: { strategy: field_merge, options: { fields: { tags: unionize } } }
groups:
  - { name: g, fallback: nope, rules: [{ name: e }] }
settings: { default_fallback: wat }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatPolicyProblems(result.problems).split('\n')).toEqual([
      'rules[1].prority: unknown key "prority"',
      'rules[1].name: duplicate name "a" (also at rules[0].name)',
      'rules[2].conditions.colour: unknown key "colour"',
      'rules[2].conditions.fields: must not be empty (an empty list matches nothing)',
      'rules[3].enabled: must be true or false',
      'groups[0].rules[0].resolution: is required',
      expect.stringMatching(
        /^rules\[2\]\.conditions\.aggregate_ids: invalid regex "\(": .*missing closing \)/,
      ) as string,
      'rules[2].resolution.strategy: unknown strategy "lastwrite"',
      expect.stringMatching(
        /^rules\[3\]\.resolution\.options\.fields\.tags: unknown field rule "unionize"/,
      ) as string,
      'groups[0].fallback: unknown strategy "nope"',
      'settings.default_fallback: unknown strategy "wat"',
    ]);
  });

  it('reports parse errors and loads JSON', () => {
    const bad = loadPolicy('rules: [', {});
    expect(!bad.ok && bad.problems[0]?.message).toMatch(/^cannot parse policy/);
    const json = loadPolicy(
      JSON.stringify({ name: 'j', rules: [{ name: 'r', resolution: { strategy: 'LWW' } }] }),
      {
        format: 'json',
      },
    );
    expect(json.ok && json.policy.decide(task()).rule).toBe('r');
  });

  it('hashes the normalised content: same policy, same hash, any format or key order', () => {
    const yaml = load(`name: h\nrules: [{ name: r, resolution: { strategy: lww } }]`);
    const json = load(`{"rules":[{"resolution":{"strategy":"lww"},"name":"r","priority":0}],"name":"h"}`);
    const other = load(`name: h\nrules: [{ name: r, resolution: { strategy: fww } }]`);
    expect(yaml.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(json.hash).toBe(yaml.hash);
    expect(other.hash).not.toBe(yaml.hash);
  });

  it('loads a go-sync-kit rule file unchanged and evaluates it', () => {
    const p = load(`
version: "1.0"
name: "demo-config"
description: "Dynamic rules for the offline-first demo"
settings:
  default_fallback: "last_write_wins"

rules:
  - name: "title-changes-field-merge"
    conditions:
      event_types: ["document_updated"]
      fields: ["title"]
    resolution:
      strategy: "last_write_wins"

  - name: "tags-additive-merge"
    conditions:
      event_types: ["document_updated"]
      fields: ["tags"]
    resolution:
      strategy: "additive_merge"

groups:
  - name: "status-rules"
    description: "Status progression gets special handling"
    rules:
      - name: "status-change-prefers-progress"
        conditions:
          event_types: ["document_updated"]
          fields: ["status"]
        resolution:
          strategy: "manual_review"
`);
    expect(p.name).toBe('demo-config');
    const doc = (
      remote: Record<string, string | string[]>,
      local: Record<string, { value: string | string[] }>,
    ) => p.decide(task({ event: { type: 'document_updated', hlc: hlc(9) }, remote, local }));
    expect(doc({ tags: ['b'] }, { tags: { value: ['a'] } })).toMatchObject({
      rule: 'tags-additive-merge',
      result: { fields: { tags: ['a', 'b'] } },
    });
    expect(doc({ status: 'done' }, { status: { value: 'open' } })).toMatchObject({
      rule: 'status-change-prefers-progress',
      group: 'status-rules',
      outcome: 'pending_review',
    });
    expect(doc({ body: 'x' }, { body: { value: 'y' } })).toMatchObject({
      via: 'default_fallback',
      strategy: 'last_write_wins',
    });
  });

  it('loads the bundled example policy', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../policies/example.yaml', import.meta.url), 'utf8');
    const p = load(text);
    const price = task({
      event: { type: 'PriceChanged', metadata: { source: 'erp' } },
      remote: { price: 10 },
      local: { price: { value: 9, source: 'mobile' } },
    });
    expect(p.decide(price)).toMatchObject({ rule: 'erp-owns-price', result: { fields: { price: 10 } } });
    const order = task({
      event: { aggregateType: 'order', type: 'OrderStatusChanged' },
      remote: { status: 'paid' },
      local: { status: { value: 'shipped' } },
    });
    expect(p.decide(order)).toMatchObject({
      rule: 'status-forward-only',
      group: 'orders',
      result: { fields: { status: 'shipped' } },
    });
  });
});

describe('decision record', () => {
  it('records everything a ledger row needs, timestamps from the injected clock', () => {
    const p = load(`
rules:
  - name: review
    resolution: { strategy: manual, options: { provisional: lww, timeout: 1h } }
`);
    const conflict = task({
      event: { hlc: hlc(9) },
      local: { title: { value: 'local', eventId: 'e-old', hlc: hlc(1) } },
    });
    const decision = p.decide(conflict);
    const record = createDecisionRecord({
      conflict,
      decision,
      policy: p,
      clock: manualClock(1_700_000_000_000),
    });
    expect(record).toMatchObject({
      conflictId: 'c1',
      eventId: 'e-remote',
      conflictingEventIds: ['e-old'],
      policy: { name: 'policy', version: '1.0', hash: p.hash },
      via: 'rule',
      rule: 'review',
      strategy: 'manual_review',
      outcome: 'pending_review',
      provisional: true,
      final: false,
      fields: { title: 'remote' },
      review: { provisionalStrategy: 'last_write_wins', timeoutMs: 3_600_000, dueAt: 1_700_003_600_000 },
      decidedBy: { kind: 'policy' },
      decidedAt: 1_700_000_000_000,
      decidedAtIso: '2023-11-14T22:13:20.000Z',
    });
    expect(resolutionChanges(conflict, decision.result)?.fields).toEqual({ title: 'remote' });
  });
});
