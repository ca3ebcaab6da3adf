import type { Conflict } from '../conflict/types.js';
import type { DecisionRecord } from '../decision/record.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { ResolutionDecision } from '../strategy/types.js';
import type { CompiledPolicy } from './compile.js';
import type { PolicyDecision } from './types.js';

/** What a decision chose, as a dry run compares it: the rule, the strategy, the outcome, the values. */
export interface DecisionSummary {
  readonly rule: string | null;
  readonly group: string | null;
  readonly strategy: string;
  readonly outcome: ResolutionDecision;
  readonly fields: Readonly<Record<string, JsonValue | undefined>>;
}

/** A recorded conflict and the decision its policy made then (the ledger's policy entry). */
export interface RecordedConflict {
  readonly conflict: Conflict;
  readonly decision: DecisionRecord;
}

export interface DryRunChange {
  readonly conflictId: string;
  readonly before: DecisionSummary;
  readonly after: DecisionSummary;
}

/**
 * What a candidate policy would have decided on recorded conflicts: how many it saw, how many it
 * decides differently, how many each of its rules takes (`byRule`, keyed by rule name, or by how the
 * decision was reached when no rule matched: `fallback`, `no_rule_matched`), and the changes
 * themselves, up to a limit (`truncated` says more changed than are listed).
 */
export interface DryRunReport {
  readonly policy: { readonly name: string; readonly version: string; readonly hash: string };
  readonly conflicts: number;
  readonly changed: number;
  readonly byRule: Readonly<Record<string, number>>;
  readonly changes: readonly DryRunChange[];
  readonly truncated: boolean;
}

export interface DryRun {
  /** Re-decides one recorded conflict with the candidate, in memory. */
  add(recorded: RecordedConflict): void;
  report(): DryRunReport;
}

const recordedSummary = (record: DecisionRecord): DecisionSummary => ({
  rule: record.rule ?? null,
  group: record.group ?? null,
  strategy: record.strategy,
  outcome: record.outcome,
  fields: record.fields,
});

const candidateSummary = (decision: PolicyDecision, conflict: Conflict): DecisionSummary => {
  const fields: Record<string, JsonValue | undefined> = {};
  for (const field of conflict.overlappingFields) fields[field] = decision.result.fields[field];
  return {
    rule: decision.rule ?? null,
    group: decision.group ?? null,
    strategy: decision.strategy,
    outcome: decision.outcome,
    fields,
  };
};

/** JSON equality with object keys in any order (values come from JSON, so no cycles). */
const sameJson = (a: JsonValue | undefined, b: JsonValue | undefined): boolean => {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    const left: readonly JsonValue[] = a;
    const right: readonly JsonValue[] = b;
    return left.length === right.length && left.every((item, index) => sameJson(item, right[index]));
  }
  const left = a as JsonObject;
  const right = b as JsonObject;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
  );
};

const sameSummary = (a: DecisionSummary, b: DecisionSummary): boolean =>
  a.rule === b.rule &&
  a.group === b.group &&
  a.strategy === b.strategy &&
  a.outcome === b.outcome &&
  sameJson(a.fields as JsonValue, b.fields as JsonValue);

const ruleKey = (decision: PolicyDecision): string =>
  decision.rule ?? (decision.reason === 'no_rule_matched' ? 'no_rule_matched' : decision.via);

/**
 * A dry run of `candidate` over recorded conflicts, fed one at a time so the caller can read the
 * ledger in pages. Pure: nothing is written, and the candidate decides exactly as it would live.
 */
export const createDryRun = (candidate: CompiledPolicy, options: { readonly maxChanges: number }): DryRun => {
  let conflicts = 0;
  let changed = 0;
  const byRule = new Map<string, number>();
  const changes: DryRunChange[] = [];
  return {
    add({ conflict, decision }) {
      conflicts += 1;
      const decided = candidate.decide(conflict);
      const key = ruleKey(decided);
      byRule.set(key, (byRule.get(key) ?? 0) + 1);
      const before = recordedSummary(decision);
      const after = candidateSummary(decided, conflict);
      if (sameSummary(before, after)) return;
      changed += 1;
      if (changes.length < options.maxChanges) changes.push({ conflictId: conflict.id, before, after });
    },
    report: () => ({
      policy: { name: candidate.name, version: candidate.version, hash: candidate.hash },
      conflicts,
      changed,
      byRule: Object.fromEntries([...byRule].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      changes: [...changes],
      truncated: changed > changes.length,
    }),
  };
};
