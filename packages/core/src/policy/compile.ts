import type { Conflict } from '../conflict/types.js';
import { ConcordError, coreErrors } from '../errors.js';
import { canonicalJson } from '../json.js';
import { manualStrategy } from '../strategy/manual.js';
import { createStrategyRegistry, type StrategyRegistry } from '../strategy/registry.js';
import type { Strategy } from '../strategy/types.js';
import type { Spec } from '../spec/spec.js';
import { compileConditions, type CompiledCondition } from './conditions.js';
import { decideWithTree, type GroupNode, type PolicyNode, type PolicyTree, type RuleNode } from './engine.js';
import { sha256 } from './sha256.js';
import type {
  ConditionsDoc,
  GroupDoc,
  PolicyDecision,
  PolicyDocument,
  PolicyProblem,
  ResolutionDoc,
  RuleDoc,
  SkippedEntry,
} from './types.js';

/**
 * A compiled resolution policy: conditions compiled to closures, strategies compiled with their options,
 * the evaluation order fixed. Evaluation order (DESIGN §6):
 *
 * 1. Top-level rules and groups form one list ordered by `priority` (higher first, default 0), ties in
 *    file order, top-level rules before groups at equal priority. Disabled rules and groups are skipped.
 * 2. The first rule whose conditions all hold wins (OR inside a list, AND across conditions).
 * 3. A group is entered only if its own conditions hold (none: always); its rules and subgroups are tried
 *    in the same order; if none matched, the group's `fallback` applies if set, otherwise evaluation
 *    continues after the group.
 * 4. Then `settings.default_fallback`.
 * 5. Otherwise manual review with reason `no_rule_matched` — never dropped, never a throw.
 */
export interface CompiledPolicy {
  readonly name: string;
  readonly version: string;
  /** SHA-256 (hex) of the normalised document's canonical JSON: identifies the policy in decisions. */
  readonly hash: string;
  readonly document: PolicyDocument;
  /** What loaded but is ignored (options go-sync-kit's strategies ignore), each with its path. */
  readonly warnings: readonly PolicyProblem[];
  /** Decide a conflict: the strategy's result plus the explanation. */
  decide(conflict: Conflict): PolicyDecision;
}

/** Options for `compilePolicy`. */
export interface CompilePolicyOptions {
  /** Strategies available by name (default: the built-ins). */
  readonly registry?: StrategyRegistry;
  /** Specs that `custom_match` conditions name (default: none). */
  readonly specs?: SpecRegistry;
}

/** Makes the spec a `custom_match` entry names from its argument (`custom_match: { name: argument }`). */
export type SpecFactory = (argument: string) => Spec;

/** Specs by the name `custom_match` gives them, registered in code (or by an extension module). */
export type SpecRegistry = ReadonlyMap<string, SpecFactory>;

/** The result of compiling or loading a policy: the policy, or every problem with its path. */
export type PolicyResult =
  | { readonly ok: true; readonly policy: CompiledPolicy }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

const NO_MATCH = manualStrategy({ reason: 'no_rule_matched: no rule or fallback applies', review: {} });

/** Compile a normalised document. Reports unknown strategies, bad options and bad patterns with paths. */
export const compileDocument = (
  document: PolicyDocument,
  options: CompilePolicyOptions = {},
): PolicyResult => {
  const registry = options.registry ?? createStrategyRegistry();
  const specs = options.specs ?? new Map<string, SpecFactory>();
  const problems: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  // An empty name is a placeholder for a resolution `normalizeDocument` already reported as missing.
  const strategy = (ref: ResolutionDoc, path: string, namePath = '.strategy'): Strategy =>
    ref.strategy === ''
      ? NO_MATCH
      : (registry.compile({ name: ref.strategy, options: ref.options, path, namePath, problems, warnings }) ??
        NO_MATCH);

  /** The conditions of a rule or group: the built-in ones, then each `custom_match` spec. */
  const conditionsOf = (
    doc: ConditionsDoc | undefined,
    path: string,
    owner: Omit<SkippedEntry, 'reason' | 'condition'>,
  ): CompiledCondition[] => {
    const compiled = compileConditions({ conditions: doc, path, owner, problems });
    for (const [name, argument] of Object.entries(doc?.custom_match ?? {})) {
      const factory = specs.get(name);
      if (factory === undefined) {
        const known = [...specs.keys()].sort();
        problems.push({
          path: `${path}.custom_match.${name}`,
          message: `unknown custom_match spec "${name}" (${known.length === 0 ? 'none is registered' : `registered: ${known.join(', ')}`})`,
        });
        continue;
      }
      const label = `custom_match ${name}(${JSON.stringify(argument)})`;
      compiled.push({
        test: factory(argument),
        label,
        skip: Object.freeze({ ...owner, reason: 'conditions_not_met', condition: label }),
      });
    }
    return compiled;
  };

  const compileRule = (
    rule: RuleDoc,
    path: string,
    group: string | undefined,
    held: readonly string[],
  ): RuleNode => {
    const owner = { kind: 'rule' as const, name: rule.name, ...(group === undefined ? {} : { group }) };
    const conditions = conditionsOf(rule.conditions, `${path}.conditions`, owner);
    return {
      kind: 'rule',
      name: rule.name,
      group,
      enabled: rule.enabled,
      conditions,
      held: Object.freeze([...held, ...conditions.map((c) => c.label)]),
      strategy: strategy(rule.resolution, `${path}.resolution`),
      disabledSkip: Object.freeze({ ...owner, reason: 'disabled' }),
    };
  };

  const compileGroup = (
    g: GroupDoc,
    path: string,
    parent: string | undefined,
    held: readonly string[],
  ): GroupNode => {
    const groupPath = parent === undefined ? g.name : `${parent}/${g.name}`;
    const owner = {
      kind: 'group' as const,
      name: g.name,
      ...(parent === undefined ? {} : { group: parent }),
    };
    const conditions = conditionsOf(g.conditions, `${path}.conditions`, owner);
    const inner = Object.freeze([...held, ...conditions.map((c) => c.label)]);
    const entries = order(
      g.rules.map((r, i) => compileRule(r, `${path}.rules[${i}]`, groupPath, inner)),
      g.groups.map((sub, i) => compileGroup(sub, `${path}.groups[${i}]`, groupPath, inner)),
      g,
    );
    return {
      kind: 'group',
      name: g.name,
      path: groupPath,
      group: parent,
      enabled: g.enabled,
      conditions,
      held: inner,
      entries,
      fallback: g.fallback === undefined ? undefined : strategy(g.fallback, `${path}.fallback`, ''),
      disabledSkip: Object.freeze({ ...owner, reason: 'disabled' }),
      exhaustedSkip: Object.freeze({ ...owner, reason: 'no_rule_matched_in_group' }),
    };
  };

  const rules = document.rules.map((r, i) => compileRule(r, `rules[${i}]`, undefined, []));
  const groups = document.groups.map((g, i) => compileGroup(g, `groups[${i}]`, undefined, []));
  const fallback = document.settings.default_fallback;
  const tree: PolicyTree = {
    entries: order(rules, groups, document),
    defaultFallback: fallback === undefined ? undefined : strategy(fallback, 'settings.default_fallback', ''),
    noMatch: NO_MATCH,
  };
  if (problems.length > 0) return { ok: false, problems };
  const policy: CompiledPolicy = {
    name: document.name,
    version: document.version,
    hash: policyHash(document),
    document,
    warnings: Object.freeze(warnings),
    decide: (conflict) => decideWithTree(tree, conflict),
  };
  return { ok: true, policy: Object.freeze(policy) };
};

interface Prioritised {
  readonly priority: number;
}

/** Priority desc; ties: file order, rules before groups. */
const order = (
  rules: readonly RuleNode[],
  groups: readonly GroupNode[],
  doc: { readonly rules: readonly Prioritised[]; readonly groups: readonly Prioritised[] },
): PolicyNode[] => {
  const keyed = [
    ...rules.map((node, i) => ({ node, priority: doc.rules[i]?.priority ?? 0, kind: 0, index: i })),
    ...groups.map((node, i) => ({ node, priority: doc.groups[i]?.priority ?? 0, kind: 1, index: i })),
  ];
  keyed.sort((a, b) => b.priority - a.priority || a.kind - b.kind || a.index - b.index);
  return keyed.map((k) => k.node);
};

/** SHA-256 of the document's canonical JSON. Equal documents (YAML or JSON, any key order) hash equally. */
export const policyHash = (document: PolicyDocument): string => sha256(canonicalJson(document));

/** Decide `conflict` with `policy`. See `CompiledPolicy` for the evaluation order. */
export const decide = (policy: CompiledPolicy, conflict: Conflict): PolicyDecision => policy.decide(conflict);

/** Raised by `requireRuleMatch` when the policy had no rule and no fallback for a conflict. */
export class NoRuleMatchedError extends ConcordError {
  override readonly name = 'NoRuleMatchedError';
  constructor(
    readonly conflictId: string,
    readonly policyName: string,
  ) {
    super(
      coreErrors.POLICY_NO_RULE_MATCHED,
      `policy "${policyName}" has no rule or fallback for conflict ${conflictId}`,
    );
  }
}

/** Options for `requireRuleMatch`. */
export interface RequireRuleMatchOptions {
  readonly policy: CompiledPolicy;
  readonly conflict: Conflict;
}

/**
 * Like `decide`, but a conflict nothing matched (no rule, no fallback) throws `NoRuleMatchedError`
 * instead of returning the `no_rule_matched` manual review: for callers that want the typed error.
 */
export const requireRuleMatch = (options: RequireRuleMatchOptions): PolicyDecision => {
  const decision = options.policy.decide(options.conflict);
  if (decision.via === 'no_match') throw new NoRuleMatchedError(options.conflict.id, options.policy.name);
  return decision;
};
