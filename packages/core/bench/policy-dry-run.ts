import { createDecisionRecord } from '@concord/core/decision';
import { createDryRun } from '@concord/core/policy';
import type { CompiledPolicy } from '@concord/core/policy';
import type { RecordedConflict } from '../src/policy/dry-run.js';
import { RULES, benchConflict, concordPolicy } from './policy-decide.js';

const clock = { now: () => 1_760_000_000_000 };
/** Rows per page, as the resolver reads the ledger (services/resolver/src/dry-run.ts). */
const PAGE = 1_000;

/**
 * `count` recorded conflicts, decided by the live 20-rule policy (last_write_wins), each matching one
 * of its rules in turn, serialised page by page as JSON, the form they come out of Postgres's jsonb.
 */
export const recordedPages = (live: CompiledPolicy, count: number): string[] => {
  const pages: string[] = [];
  for (let start = 0; start < count; start += PAGE) {
    const page: RecordedConflict[] = [];
    for (let i = start; i < Math.min(count, start + PAGE); i += 1) {
      const conflict = benchConflict((i % RULES) + 1, `c-${i}`);
      page.push({
        conflict,
        decision: createDecisionRecord({ conflict, decision: live.decide(conflict), policy: live, clock }),
      });
    }
    pages.push(JSON.stringify(page));
  }
  return pages;
};

/**
 * A dry run of a candidate with the same rules deciding by first_write_wins (so every conflict's value
 * changes): each page decoded from JSON, then re-decided in memory, as the resolver does.
 */
export const dryRunPages = (pages: readonly string[]) => {
  const candidate = concordPolicy(RULES, 'first_write_wins');
  const run = createDryRun(candidate, { maxChanges: 100 });
  const started = performance.now();
  for (const page of pages) for (const recorded of JSON.parse(page) as RecordedConflict[]) run.add(recorded);
  const report = run.report();
  return { seconds: (performance.now() - started) / 1000, report };
};

/** Each decision timed alone, `samples` times: per-decision percentiles in nanoseconds. */
export const decisionPercentiles = (policy: CompiledPolicy, samples: number) => {
  const conflicts = Array.from({ length: RULES }, (_, i) => benchConflict(i + 1));
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i += 1) {
    const conflict = conflicts[i % conflicts.length] as (typeof conflicts)[number];
    const started = process.hrtime.bigint();
    policy.decide(conflict);
    times[i] = Number(process.hrtime.bigint() - started);
  }
  times.sort();
  const at = (q: number) => Math.round(times[Math.min(samples - 1, Math.floor(q * samples))] ?? 0);
  return { p50Ns: at(0.5), p99Ns: at(0.99) };
};
