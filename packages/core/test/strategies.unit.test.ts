import { describe, expect, it } from 'vitest';
import type { Conflict } from '@concord/core/conflict';
import { createStrategyRegistry, type Strategy, type StrategyProblem } from '@concord/core/strategy';
import { hlc, makeConflict } from './support.js';

const registry = createStrategyRegistry();
const compile = (name: string, options?: unknown): Strategy => {
  const problems: StrategyProblem[] = [];
  const s = registry.compile({ name, options, path: 'r', problems });
  expect(problems).toEqual([]);
  if (!s) throw new Error('not compiled');
  return s;
};
const problemsOf = (name: string, options?: unknown): string[] => {
  const problems: StrategyProblem[] = [];
  registry.compile({ name, options, path: 'r', problems });
  return problems.map((p) => `${p.path}: ${p.message}`);
};
const choices = (s: Strategy, c: Conflict) => s.resolve(c).choices.map((x) => [x.field, x.source, x.value]);

// One-sided: only the remote has a stamp. Concurrent: both stamped, remote later. Equal: identical stamps.
const oneSided = makeConflict({ event: { hlc: hlc(10, 'b') }, local: { title: { value: 'local' } } });
const concurrent = makeConflict({
  event: { hlc: hlc(20, 'b'), origin: 'b' },
  local: { title: { value: 'local', hlc: hlc(10, 'a'), origin: 'a', eventId: 'e-local' } },
});
const equalStamps = (remoteOrigin: string, localOrigin: string) =>
  makeConflict({
    event: { hlc: hlc(10, 'x'), origin: remoteOrigin, id: 'e2' },
    local: { title: { value: 'local', hlc: hlc(10, 'x'), origin: localOrigin, eventId: 'e1' } },
  });

describe('last_write_wins / first_write_wins', () => {
  it('resolve one-sided, concurrent and equal inputs', () => {
    const lww = compile('LWW');
    expect(choices(lww, oneSided)).toEqual([['title', 'remote', 'remote']]);
    expect(choices(lww, concurrent)).toEqual([['title', 'remote', 'remote']]);
    const later = makeConflict({ event: { hlc: hlc(5) }, local: { title: { value: 'local', hlc: hlc(9) } } });
    expect(choices(lww, later)).toEqual([['title', 'local', 'local']]);
    const fww = compile('fww');
    expect(choices(fww, concurrent)).toEqual([['title', 'local', 'local']]);
    expect(choices(fww, later)).toEqual([['title', 'remote', 'remote']]);
    expect(lww.resolve(concurrent).decision).toBe('resolved');
    expect(lww.resolve(concurrent).choices[0]?.reason).toContain('remote write is later');
  });

  it('break HLC ties deterministically: origin, then event id', () => {
    const lww = compile('last_write_wins');
    expect(choices(lww, equalStamps('b', 'a'))).toEqual([['title', 'remote', 'remote']]);
    expect(choices(lww, equalStamps('a', 'b'))).toEqual([['title', 'local', 'local']]);
    expect(lww.resolve(equalStamps('a', 'b')).choices[0]?.reason).toContain('broken by origin');
    // same origin: event id decides (e2 > e1 → remote), and the answer never changes between runs
    const same = equalStamps('a', 'a');
    expect(choices(lww, same)).toEqual([['title', 'remote', 'remote']]);
    expect(lww.resolve(same).choices[0]?.reason).toContain('broken by event id');
    for (let i = 0; i < 5; i++) expect(choices(lww, same)).toEqual(choices(lww, same));
    expect(choices(compile('fww'), same)).toEqual([['title', 'local', 'local']]);
  });
});

describe('additive_merge', () => {
  it('unions arrays, merges objects, falls back to LWW for scalars', () => {
    const c = makeConflict({
      event: { hlc: hlc(20) },
      remote: { tags: ['b', 'c'], attrs: { x: 1, list: [2] }, title: 'R' },
      local: {
        tags: { value: ['a', 'b'] },
        attrs: { value: { y: 2, list: [1] } },
        title: { value: 'L', hlc: hlc(30) },
      },
    });
    const r = compile('merge').resolve(c);
    expect(r.fields).toEqual({ attrs: { y: 2, list: [1, 2], x: 1 }, tags: ['a', 'b', 'c'], title: 'L' });
    expect(r.choices.map((x) => x.source)).toEqual(['merged', 'merged', 'local']);
    expect(
      choices(compile('additive_merge'), makeConflict({ remote: { t: 1 }, local: { t: { value: 1 } } })),
    ).toEqual([['t', 'merged', 1]]);
  });
});

describe('field_merge', () => {
  const c = makeConflict({
    event: { hlc: hlc(20) },
    remote: {
      tags: ['x'],
      views: 5,
      high: 3,
      low: 3,
      note: 'R',
      mine: 'R',
      theirs: 'R',
      first: 'R',
      other: 'R',
    },
    local: {
      tags: { value: ['y'] },
      views: { value: 7 },
      high: { value: 9 },
      low: { value: 9 },
      note: { value: 'L', hlc: hlc(10) },
      mine: { value: 'L' },
      theirs: { value: 'L' },
      first: { value: 'L', hlc: hlc(10) },
      other: { value: 'L', hlc: hlc(30) },
    },
  });
  it('applies each per-field rule and the * default', () => {
    const s = compile('field_merge', {
      fields: {
        tags: 'union',
        views: 'sum',
        high: 'max',
        low: 'MIN',
        note: 'lww',
        mine: 'prefer_local',
        theirs: 'prefer_remote',
        first: 'first_write_wins',
        '*': 'last_write_wins',
      },
    });
    expect(s.resolve(c).fields).toEqual({
      tags: ['y', 'x'],
      views: 12,
      high: 9,
      low: 3,
      note: 'R',
      mine: 'L',
      theirs: 'R',
      first: 'L',
      other: 'L',
    });
  });

  it('falls back to LWW for non-numeric max and non-array union, with a reason', () => {
    const s = compile('field_merge', { fields: { '*': 'max' } });
    const r = s.resolve(
      makeConflict({ event: { hlc: hlc(2) }, remote: { t: 'a' }, local: { t: { value: 1, hlc: hlc(1) } } }),
    );
    expect(r.fields).toEqual({ t: 'a' });
    expect(r.choices[0]?.reason).toMatch(/^max needs two numbers; fell back to last_write_wins/);
  });

  it('reports unknown field rules with their path', () => {
    expect(problemsOf('field_merge', { fields: { tags: 'unionize' } })).toEqual([
      expect.stringMatching(/^r\.options\.fields\.tags: unknown field rule "unionize"/),
    ]);
    expect(problemsOf('field_merge', {})).toEqual([
      'r.options.fields: must be a mapping of field name to rule',
    ]);
  });
});

describe('prefer_source', () => {
  const s = compile('prefer_source', { order: ['erp', 'admin', 'mobile'] });
  const conflict = (remote: string | undefined, local: string | undefined) =>
    makeConflict({
      event: { hlc: hlc(20), ...(remote ? { metadata: { source: remote } } : {}) },
      remote: { price: 10 },
      local: { price: { value: 8, hlc: hlc(10), ...(local ? { source: local } : {}) } },
    });
  it('lets the more trusted source win, unlisted sources lose, ties use LWW', () => {
    expect(choices(s, conflict('erp', 'mobile'))).toEqual([['price', 'remote', 10]]);
    expect(choices(s, conflict('mobile', 'admin'))).toEqual([['price', 'local', 8]]);
    expect(choices(s, conflict(undefined, 'mobile'))).toEqual([['price', 'local', 8]]);
    expect(choices(s, conflict('admin', undefined))).toEqual([['price', 'remote', 10]]);
    expect(choices(s, conflict('erp', 'erp'))).toEqual([['price', 'remote', 10]]);
    expect(s.resolve(conflict('erp', 'mobile')).choices[0]?.reason).toBe(
      'remote source "erp" outranks "mobile" in [erp, admin, mobile]',
    );
  });
  it('can rank by origin and requires an order', () => {
    const byOrigin = compile('prefer_source', { order: ['hq'], by: 'origin' });
    const c = makeConflict({
      event: { origin: 'hq' },
      remote: { p: 1 },
      local: { p: { value: 2, origin: 'shop' } },
    });
    expect(choices(byOrigin, c)).toEqual([['p', 'remote', 1]]);
    expect(problemsOf('prefer_source', { order: [], by: 'x' })).toEqual([
      'r.options.order: must be a non-empty list of strings',
      'r.options.by: must be "source" or "origin"',
    ]);
  });
});

describe('state_machine', () => {
  const s = compile('state_machine', { field: 'status', order: ['pending', 'paid', 'shipped', 'delivered'] });
  const conflict = (remote: string, local: string) =>
    makeConflict({
      event: { hlc: hlc(1) },
      remote: { status: remote, note: 'R' },
      local: { status: { value: local, hlc: hlc(2) }, note: { value: 'L', hlc: hlc(2) } },
    });
  it('only moves forward; other fields use LWW', () => {
    expect(s.resolve(conflict('shipped', 'paid')).fields).toEqual({ note: 'L', status: 'shipped' });
    expect(s.resolve(conflict('pending', 'shipped')).fields).toEqual({ note: 'L', status: 'shipped' });
    expect(s.resolve(conflict('paid', 'paid')).choices.find((x) => x.field === 'status')?.reason).toBe(
      'both sides are in state "paid"',
    );
    expect(s.resolve(conflict('paid', 'lost')).fields['status']).toBe('paid');
    expect(s.resolve(conflict('weird', 'lost')).fields['status']).toBe('lost');
  });
});

describe('manual_review and reject', () => {
  it('holds for review, keeping current values, with timeout info', () => {
    const r = compile('manual', { timeout: '24h', escalate_to: 'ops', on_timeout: 'lww' }).resolve(
      concurrent,
    );
    expect(r.decision).toBe('pending_review');
    expect(r.fields).toEqual({ title: 'local' });
    expect(r.review).toEqual({ timeoutMs: 86_400_000, onTimeout: 'last_write_wins', escalateTo: 'ops' });
  });
  it('applies a provisional strategy meanwhile', () => {
    const r = compile('manual_review', { provisional: 'last_write_wins' }).resolve(concurrent);
    expect(r.decision).toBe('pending_review');
    expect(r.fields).toEqual({ title: 'remote' });
    expect(r.review).toEqual({ provisionalStrategy: 'last_write_wins' });
    expect(r.choices[0]?.reason).toMatch(/^provisional \(last_write_wins\): /);
  });
  it('reports bad manual options', () => {
    expect(problemsOf('manual', { timeout: 'soon', provisional: 'lastwrite' })).toEqual([
      'r.options.provisional: unknown strategy "lastwrite"',
      'r.options.timeout: must be a positive duration (ms, or like "30m", "24h", "7d")',
    ]);
  });
  it('rejects with a code and reason, keeping current values', () => {
    const r = compile('reject', { reason: 'read-only aggregate' }).resolve(oneSided);
    expect(r).toMatchObject({
      decision: 'rejected',
      fields: { title: 'local' },
      rejection: { code: 'CONCORD_POLICY_REJECTED', reason: 'read-only aggregate' },
    });
  });
});

describe('registry', () => {
  it('resolves names case-insensitively with aliases and refuses duplicates', () => {
    for (const n of ['lww', 'LWW', 'Last-Write-Wins', 'last_write_wins', 'LastWriteWins']) {
      expect(registry.get(n)?.name).toBe('last_write_wins');
    }
    expect(registry.get('merge')?.name).toBe('additive_merge');
    expect(registry.get('manual')?.name).toBe('manual_review');
    expect(registry.get('lastwrite')).toBeUndefined();
    expect(() =>
      createStrategyRegistry().register({ name: 'LWW', compile: () => compile('lww') }),
    ).toThrowError(expect.objectContaining({ code: 'CONCORD_STRATEGY_DUPLICATE' }) as Error);
  });
  it('runs custom strategies registered in code', () => {
    const custom = createStrategyRegistry([
      {
        name: 'uppercase',
        compile: () => ({
          name: 'uppercase',
          resolve: () => ({
            decision: 'resolved',
            strategy: 'uppercase',
            fields: { title: 'REMOTE' },
            choices: [{ field: 'title', source: 'merged', value: 'REMOTE', reason: 'shouted' }],
            reasons: [],
          }),
        }),
      },
    ]);
    const problems: StrategyProblem[] = [];
    const s = custom.compile({ name: 'Uppercase', options: undefined, path: 'x', problems });
    expect(s?.resolve(oneSided).fields).toEqual({ title: 'REMOTE' });
  });
});
