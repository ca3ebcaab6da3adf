import { readFileSync } from 'node:fs';
import { loadPolicy } from '@concord/core/policy';
import type { Conflict } from '@concord/core/conflict';
import type { CompiledPolicy, SpecRegistry } from '@concord/core/policy';
import { describe, expect, it } from 'vitest';
import { makeConflict } from './support.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/go-sync-kit/${name}`, import.meta.url), 'utf8');

const PRIORITIES = ['low', 'medium', 'high', 'critical'];

/** The specs the fixtures' `custom_match` entries name, as an application registers them in code. */
const specs: SpecRegistry = new Map([
  [
    'document_locked',
    (argument: string) => (c: Conflict | undefined) => c?.event.metadata?.['locked'] === argument,
  ],
  [
    'priority_at_least',
    (argument: string) => (c: Conflict | undefined) => {
      const priority = c?.event.metadata?.['priority'];
      return typeof priority === 'string' && PRIORITIES.indexOf(priority) >= PRIORITIES.indexOf(argument);
    },
  ],
]);

const load = (name: string, withSpecs = true): CompiledPolicy => {
  const result = loadPolicy(fixture(name), {
    format: name.endsWith('.json') ? 'json' : 'yaml',
    ...(withSpecs ? { specs } : {}),
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
};

describe('go-sync-kit rule files load unchanged', () => {
  it('loads its settings, annotations, subgroups, and one rule name in several groups', () => {
    const policy = load('documents.yaml');
    expect(policy.name).toBe('documents');
    expect(policy.document.groups.map((g) => g.name)).toEqual(['locked-documents', 'drafts']);
    const archived = policy.document.groups[0]?.groups[0];
    expect(archived?.rules[0]?.name).toBe('status-review');
  });

  it('warns about the options go-sync-kit ignores instead of refusing the file', () => {
    expect(load('documents.yaml').warnings).toEqual([
      {
        path: 'rules[0].resolution.options.prefer',
        message: 'unknown option "prefer": ignored',
      },
      {
        path: 'groups[0].rules[0].resolution.options.notify',
        message: expect.stringContaining('unknown option "notify"') as string,
      },
    ]);
    expect(load('showcase.json').warnings.map((w) => w.path)).toEqual([
      'groups[0].rules[0].resolution.options.confidence',
    ]);
  });

  it('still refuses unknown options of Concord-only strategies', () => {
    const result = loadPolicy(
      'rules:\n  - name: r\n    resolution: { strategy: prefer_source, options: { order: [a], prefer: x } }\n',
    );
    expect(result.ok).toBe(false);
  });

  it('resolves custom_match names to registered specs, which decide with the other conditions', () => {
    const policy = load('documents.yaml');
    const status = (locked: string): Conflict =>
      makeConflict({
        event: { type: 'document_updated', metadata: { locked } },
        remote: { status: 'final' },
        local: { status: { value: 'draft' } },
      });
    expect(policy.decide(status('true'))).toMatchObject({
      rule: 'status-review',
      group: 'locked-documents',
      strategy: 'manual_review',
    });
    const unlocked = policy.decide(status('false'));
    expect(unlocked.rule).toBeUndefined();
    expect(unlocked.explanation.skipped).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'status-review',
          condition: 'custom_match document_locked("true")',
        }),
      ]),
    );
  });

  it('names an unregistered custom_match spec in the load error', () => {
    const result = loadPolicy(fixture('showcase.json'), { format: 'json' });
    expect(result).toEqual({
      ok: false,
      problems: [
        {
          path: 'groups[0].rules[0].conditions.custom_match.priority_at_least',
          message: 'unknown custom_match spec "priority_at_least" (none is registered)',
        },
      ],
    });
  });

  it('keeps names unique within one scope', () => {
    const result = loadPolicy(`
rules:
  - { name: a, resolution: { strategy: lww } }
  - { name: a, resolution: { strategy: fww } }
groups:
  - { name: g, rules: [{ name: a, resolution: { strategy: lww } }] }
  - { name: g, rules: [{ name: b, resolution: { strategy: lww } }, { name: b, resolution: { strategy: lww } }] }
`);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual([
      'rules[1].name',
      'groups[1].name',
      'groups[1].rules[1].name',
    ]);
  });
});
