import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@concord/core/policy';
import { compileIdPatterns, PATTERN_LIMITS } from '@concord/core/spec';
import { compileGlob } from '../src/spec/pattern.js';

/** Milliseconds `run` takes. */
const elapsed = (run: () => void): number => {
  const start = performance.now();
  run();
  return performance.now() - start;
};

const globCases: [glob: string, id: string, matches: boolean][] = [
  ['note-*', 'note-12', true],
  ['note-*', 'note-', true],
  ['note-*', 'not-12', false],
  ['*-12', 'note-12', true],
  ['*', '', true],
  ['**', 'x', true],
  ['?', '', false],
  ['n?te-??', 'note-12', true],
  ['n?te-??', 'note-123', false],
  ['*a*b', 'xaxxb', true],
  ['*a*b', 'xbxxa', false],
  ['a*a', 'a', false],
  ['a*a', 'aa', true],
  ['*ab*ab*', 'abab', true],
  ['*ab*ab*', 'aba', false],
  ['*?b?*', 'xxbx', true],
  ['*?b?*', 'bx', false],
  ['*x?z*z', 'xyxyzz', true],
  ['a.b*', 'a.bc', true],
  ['a.b*', 'axbc', false],
  ['[a]*', '[a]x', true],
  ['re*', 'regex', true],
];

describe('id patterns', () => {
  it('match globs without backtracking, as the regex reading of the glob would', () => {
    for (const [glob, id, matches] of globCases) {
      expect(compileGlob(glob)(id), `${glob} ~ ${id}`).toBe(matches);
      const regex = new RegExp(
        `^${glob
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
        's',
      );
      expect(regex.test(id), `reference ${glob} ~ ${id}`).toBe(matches);
    }
  });

  // DESIGN §6 and the notifier's filters: a glob or regex runs on every conflict or notification, so
  // a backtracking matcher let one pattern hold the event loop for seconds (a 6-star glob took 21.6 s
  // on 96 characters; `^(a+)+$` 763 ms on 25). Each batch below is thousands of times over its bound
  // on a backtracking matcher.
  it('match hostile globs on 200-character ids in linear time', () => {
    const globs = Array.from({ length: 10 }, (_, i) => `${'*a'.repeat(6 + i)}*b`);
    const matcher = compileIdPatterns(globs);
    let matched = 0;
    // A backtracking matcher takes seconds on these 26 characters alone (and hours on 200).
    expect(elapsed(() => (matched += matcher('a'.repeat(26)) ? 1 : 0))).toBeLessThan(250);
    const id = 'a'.repeat(200);
    const ms = elapsed(() => {
      for (let i = 0; i < 100; i += 1) if (matcher(id)) matched += 1;
    });
    expect(matched).toBe(0);
    expect(ms).toBeLessThan(250);
    expect(matcher(`${id}b`)).toBe(true);
  });

  it('run re: regexes in linear time (RE2), so catastrophic patterns are harmless', () => {
    const matcher = compileIdPatterns(['re:^(a+)+$', 're:^(\\w+\\s?)*$', 're:^(.*a){12}x']);
    let matched = 0;
    // A backtracking engine takes over a second on 24 characters, twice as long per character more.
    expect(elapsed(() => (matched += matcher(`${'a'.repeat(24)}!`) ? 1 : 0))).toBeLessThan(250);
    const ids = [`${'a'.repeat(199)}!`, `${'b'.repeat(199)}!`];
    const ms = elapsed(() => {
      for (let i = 0; i < 10; i += 1) for (const id of ids) if (matcher(id)) matched += 1;
    });
    expect(matched).toBe(0);
    expect(ms).toBeLessThan(250);
    expect(compileIdPatterns(['re:^(a+)+$'])('aaaa')).toBe(true);
    expect(compileIdPatterns(['re:^note-\\d+$'])('note-12')).toBe(true);
    expect(compileIdPatterns(['re:note'])('a-note-b')).toBe(true);
    expect(compileIdPatterns(['re:^a.b$'])('a\nb')).toBe(true);
  });

  it('refuse regexes RE2 cannot run in linear time, oversized ones, and too many or too long patterns', () => {
    const refused = (patterns: string[], message: RegExp) => {
      expect(() => compileIdPatterns(patterns)).toThrowError(
        expect.objectContaining({
          code: 'CONCORD_SPEC_INVALID',
          message: expect.stringMatching(message),
        }) as Error,
      );
    };
    refused(['re:^(a)\\1$'], /invalid regex.*no backreferences/);
    refused(['re:^(?=a)a'], /invalid regex/);
    refused(['re:^(?<!a)b'], /invalid regex/);
    refused(['re:\\pL{1000}'], /too large/);
    refused(['x'.repeat(PATTERN_LIMITS.maxLength + 1)], /longer than 256/);
    refused(
      Array.from({ length: PATTERN_LIMITS.maxWildcards + 1 }, (_, i) => `task-${i}-*`),
      /at most 32/,
    );
    expect(() => compileIdPatterns(['x'.repeat(PATTERN_LIMITS.maxLength)])).not.toThrow();
    const exactIds = Array.from({ length: 500 }, (_, i) => `task-${i}`);
    const mixed = [...exactIds, ...Array.from({ length: PATTERN_LIMITS.maxWildcards }, (_, i) => `n-${i}-*`)];
    expect(compileIdPatterns(mixed)('n-31-x')).toBe(true);
  });

  it('report an unsafe pattern in a policy as a load error with its path', () => {
    const result = loadPolicy(`
version: "1.0"
name: p
rules:
  - name: a
    conditions: { aggregate_ids: ["re:^(x)\\\\1$"] }
    resolution: { strategy: lww }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      expect.objectContaining({
        path: 'rules[0].conditions.aggregate_ids',
        message: expect.stringMatching(/^invalid regex "\^\(x\)\\1\$"/),
      }),
    ]);
  });
});
