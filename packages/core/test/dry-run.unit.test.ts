import { createDecisionRecord } from '@concord/core/decision';
import { createDryRun, loadPolicyOrThrow } from '@concord/core/policy';
import type { Conflict } from '@concord/core/conflict';
import type { CompiledPolicy } from '@concord/core/policy';
import type { RecordedConflict } from '../src/policy/dry-run.js';
import { describe, expect, it } from 'vitest';
import { hlc, makeConflict } from './support.js';

const clock = { now: () => 1_760_000_000_000 };

const lww = loadPolicyOrThrow(`
name: live
rules:
  - name: tags-merge
    conditions: { fields: [tags] }
    resolution: { strategy: additive_merge }
settings: { default_fallback: last_write_wins }
`);

const recorded = (policy: CompiledPolicy, conflict: Conflict): RecordedConflict => ({
  conflict,
  decision: createDecisionRecord({ conflict, decision: policy.decide(conflict), policy, clock }),
});

const titleConflict = (id: string): Conflict => ({
  ...makeConflict({
    event: { hlc: hlc(2, 'phone') },
    remote: { title: 'remote' },
    local: { title: { value: 'local', hlc: hlc(1, 'laptop'), eventId: 'e-local' } },
  }),
  id,
});

const tagsConflict = (id: string): Conflict => ({
  ...makeConflict({
    remote: { tags: ['b'] },
    local: { tags: { value: ['a'], eventId: 'e-local' } },
  }),
  id,
});

describe('policy dry run', () => {
  it('reports no change when the candidate decides as the recorded policy did', () => {
    const run = createDryRun(lww, { maxChanges: 10 });
    run.add(recorded(lww, titleConflict('c1')));
    run.add(recorded(lww, tagsConflict('c2')));
    expect(run.report()).toMatchObject({
      conflicts: 2,
      changed: 0,
      byRule: { 'tags-merge': 1, default_fallback: 1 },
      changes: [],
      truncated: false,
    });
  });

  it('lists what a candidate decides differently: rule, strategy and values, before and after', () => {
    const candidate = loadPolicyOrThrow(`
name: candidate
rules:
  - name: titles-first-write
    conditions: { fields: [title] }
    resolution: { strategy: first_write_wins }
  - name: tags-merge
    conditions: { fields: [tags] }
    resolution: { strategy: additive_merge }
`);
    const run = createDryRun(candidate, { maxChanges: 10 });
    run.add(recorded(lww, titleConflict('c1')));
    run.add(recorded(lww, tagsConflict('c2')));
    const report = run.report();
    expect(report).toMatchObject({
      policy: { name: 'candidate' },
      conflicts: 2,
      changed: 1,
      byRule: { 'tags-merge': 1, 'titles-first-write': 1 },
      truncated: false,
    });
    expect(report.changes).toEqual([
      {
        conflictId: 'c1',
        before: {
          rule: null,
          group: null,
          strategy: 'last_write_wins',
          outcome: 'resolved',
          fields: { title: 'remote' },
        },
        after: {
          rule: 'titles-first-write',
          group: null,
          strategy: 'first_write_wins',
          outcome: 'resolved',
          fields: { title: 'local' },
        },
      },
    ]);
  });

  it('counts every change but lists at most maxChanges', () => {
    const reject = loadPolicyOrThrow('name: strict\nsettings: { default_fallback: reject }\n');
    const run = createDryRun(reject, { maxChanges: 2 });
    for (let i = 0; i < 5; i += 1) run.add(recorded(lww, titleConflict(`c${i}`)));
    const report = run.report();
    expect(report).toMatchObject({ conflicts: 5, changed: 5, truncated: true });
    expect(report.changes.map((c) => c.conflictId)).toEqual(['c0', 'c1']);
    expect(report.changes[0]?.after).toMatchObject({ strategy: 'reject', outcome: 'rejected' });
  });
});
