import type { Conflict } from '../conflict/types.js';
import type { Strategy } from '../strategy/types.js';
import type { CompiledCondition } from './conditions.js';
import type { DecisionVia, PolicyDecision, SkippedEntry } from './types.js';

/** A compiled rule. */
export interface RuleNode {
  readonly kind: 'rule';
  readonly name: string;
  readonly group: string | undefined;
  readonly enabled: boolean;
  readonly conditions: readonly CompiledCondition[];
  /** Labels of every condition that holds when this rule matches (enclosing groups' first). */
  readonly held: readonly string[];
  readonly strategy: Strategy;
  readonly disabledSkip: SkippedEntry;
}

/** A compiled group. */
export interface GroupNode {
  readonly kind: 'group';
  readonly name: string;
  /** Group path, e.g. `orders/express`. */
  readonly path: string;
  /** Path of the enclosing group, if any. */
  readonly group: string | undefined;
  readonly enabled: boolean;
  readonly conditions: readonly CompiledCondition[];
  readonly held: readonly string[];
  readonly entries: readonly PolicyNode[];
  readonly fallback: Strategy | undefined;
  readonly disabledSkip: SkippedEntry;
  readonly exhaustedSkip: SkippedEntry;
}

export type PolicyNode = RuleNode | GroupNode;

/** The evaluation tree of a compiled policy. */
export interface PolicyTree {
  readonly entries: readonly PolicyNode[];
  readonly defaultFallback: Strategy | undefined;
  /** What applies when nothing matched and there is no fallback (manual review, `no_rule_matched`). */
  readonly noMatch: Strategy;
}

const NO_CONDITIONS: readonly string[] = Object.freeze([]);

/**
 * Walk `entries` in their compiled order (priority desc, file order, rules before groups) and return the
 * first rule that matches, or a group whose fallback applies. Everything passed over goes to `skipped`.
 */
const evaluate = (
  entries: readonly PolicyNode[],
  conflict: Conflict,
  skipped: SkippedEntry[],
): PolicyNode | undefined => {
  for (let i = 0; i < entries.length; i++) {
    const node = entries[i] as PolicyNode;
    if (!node.enabled) {
      skipped.push(node.disabledSkip);
      continue;
    }
    let failed: CompiledCondition | undefined;
    const conditions = node.conditions;
    for (let j = 0; j < conditions.length; j++) {
      const condition = conditions[j] as CompiledCondition;
      if (!condition.test(conflict)) {
        failed = condition;
        break;
      }
    }
    if (failed !== undefined) {
      skipped.push(failed.skip);
      continue;
    }
    if (node.kind === 'rule') return node;
    const inner = evaluate(node.entries, conflict, skipped);
    if (inner !== undefined) return inner;
    if (node.fallback !== undefined) return node;
    skipped.push(node.exhaustedSkip);
  }
  return undefined;
};

/** Decide a conflict with a compiled tree. Pure; never throws for a valid conflict. */
export const decideWithTree = (tree: PolicyTree, conflict: Conflict): PolicyDecision => {
  const skipped: SkippedEntry[] = [];
  const hit = evaluate(tree.entries, conflict, skipped);
  let strategy: Strategy;
  let via: DecisionVia;
  let conditions = NO_CONDITIONS;
  if (hit !== undefined) {
    strategy = hit.kind === 'rule' ? hit.strategy : (hit.fallback as Strategy);
    via = hit.kind === 'rule' ? 'rule' : 'group_fallback';
    conditions = hit.held;
  } else if (tree.defaultFallback !== undefined) {
    strategy = tree.defaultFallback;
    via = 'default_fallback';
  } else {
    strategy = tree.noMatch;
    via = 'no_match';
  }
  const result = strategy.resolve(conflict);
  const explanation = { conditions, skipped, choices: result.choices };
  if (hit === undefined) {
    return via === 'no_match'
      ? {
          outcome: result.decision,
          via,
          strategy: result.strategy,
          reason: 'no_rule_matched',
          result,
          explanation,
        }
      : { outcome: result.decision, via, strategy: result.strategy, result, explanation };
  }
  if (hit.kind === 'rule') {
    return hit.group === undefined
      ? { outcome: result.decision, via, rule: hit.name, strategy: result.strategy, result, explanation }
      : {
          outcome: result.decision,
          via,
          rule: hit.name,
          group: hit.group,
          strategy: result.strategy,
          result,
          explanation,
        };
  }
  return { outcome: result.decision, via, group: hit.path, strategy: result.strategy, result, explanation };
};
