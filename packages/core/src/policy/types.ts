import type { ConditionSide } from '../spec/side.js';
import type { VersionRelation } from '../conflict/types.js';
import type { MetadataScalar } from '../spec/spec.js';
import type { FieldChoice, ResolutionDecision, StrategyResult } from '../strategy/types.js';

/** A strategy reference: canonical strategy name as written, plus its options. */
export interface ResolutionDoc {
  readonly strategy: string;
  readonly options?: unknown;
}

/**
 * A rule's or group's conditions. Entries inside one list are OR-ed; different keys are AND-ed.
 * `fields` / `fields_all` match the conflict's overlapping fields (any of / all of).
 */
export interface ConditionsDoc {
  readonly event_types?: readonly string[];
  readonly aggregate_types?: readonly string[];
  /** Exact ids, globs (`note-*`) or regexes (`re:^note-\d+$`). */
  readonly aggregate_ids?: readonly string[];
  readonly fields?: readonly string[];
  readonly fields_all?: readonly string[];
  /** Per metadata key, the accepted values. */
  readonly metadata?: Readonly<Record<string, readonly MetadataScalar[]>>;
  readonly origins?: readonly string[];
  readonly relations?: readonly VersionRelation[];
  /**
   * go-sync-kit's `custom_match`: spec name → its argument. Each names a spec registered in code
   * (`CompilePolicyOptions.specs`), and every one must hold.
   */
  readonly custom_match?: Readonly<Record<string, string>>;
  /**
   * Which side `metadata` and `origins` test: the incoming event (default), the stored side (the writes
   * that last set the overlapping fields; they keep `metadata.source` and `origin`), or either.
   */
  readonly side?: ConditionSide;
}

export interface RuleDoc {
  readonly name: string;
  readonly description?: string;
  readonly priority: number;
  readonly enabled: boolean;
  readonly conditions: ConditionsDoc;
  readonly resolution: ResolutionDoc;
}

export interface GroupDoc {
  readonly name: string;
  readonly description?: string;
  readonly priority: number;
  readonly enabled: boolean;
  readonly conditions?: ConditionsDoc;
  readonly rules: readonly RuleDoc[];
  readonly groups: readonly GroupDoc[];
  readonly fallback?: ResolutionDoc;
}

/** A policy file after validation and normalisation (defaults filled in, lists normalised). */
export interface PolicyDocument {
  readonly version: string;
  readonly name: string;
  readonly description?: string;
  readonly settings: { readonly default_fallback?: ResolutionDoc };
  readonly rules: readonly RuleDoc[];
  readonly groups: readonly GroupDoc[];
}

/** One problem in a policy file, with the path of the offending value. */
export interface PolicyProblem {
  readonly path: string;
  readonly message: string;
}

/** How the decision was reached. */
export type DecisionVia = 'rule' | 'group_fallback' | 'default_fallback' | 'no_match';

/** A rule or group evaluation passed over before the decision, and why. */
export interface SkippedEntry {
  readonly kind: 'rule' | 'group';
  readonly name: string;
  /** Path of the enclosing group (`orders/express`), if any. */
  readonly group?: string;
  readonly reason: 'disabled' | 'conditions_not_met' | 'no_rule_matched_in_group';
  /** The condition that did not hold (for `conditions_not_met`). */
  readonly condition?: string;
}

/** Why the policy decided as it did. */
export interface Explanation {
  /** Conditions that held for the match (enclosing groups' first), empty for fallbacks without conditions. */
  readonly conditions: readonly string[];
  /** Rules and groups evaluated before the match and passed over, in evaluation order. */
  readonly skipped: readonly SkippedEntry[];
  /** What the strategy chose per overlapping field. */
  readonly choices: readonly FieldChoice[];
}

/** The policy's decision for one conflict. */
export interface PolicyDecision {
  readonly outcome: ResolutionDecision;
  readonly via: DecisionVia;
  /** Matched rule (for `via: 'rule'`). */
  readonly rule?: string;
  /** Group path of the matched rule or of the group whose fallback applied. */
  readonly group?: string;
  /** Canonical name of the strategy applied. */
  readonly strategy: string;
  /** `no_rule_matched` when nothing matched and there is no fallback. */
  readonly reason?: 'no_rule_matched';
  readonly result: StrategyResult;
  readonly explanation: Explanation;
}
