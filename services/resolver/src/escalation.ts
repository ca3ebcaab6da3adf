import { isPlainObject } from '@concord/core';
import { createStrategyRegistry } from '@concord/core/strategy';
import type { DecisionRecord } from '@concord/core/decision';
import type { CompiledPolicy, GroupDoc, PolicyDocument, ResolutionDoc } from '@concord/core/policy';
import type { Strategy, StrategyProblem, StrategyRegistry } from '@concord/core/strategy';

export interface EscalationOptions {
  /** The policy in force now. */
  readonly policy: CompiledPolicy;
  /** The pending decision that opened the review. */
  readonly record: DecisionRecord;
  readonly registry?: StrategyRegistry;
}

export interface Escalation {
  readonly strategy: Strategy;
  /** Where the strategy came from: `on_timeout`, `group_fallback:<group>` or `default_fallback`. */
  readonly source: string;
}

/** Groups along a path like `orders/express`, outermost first. */
const groupsAlong = (document: PolicyDocument, path: string | undefined): GroupDoc[] => {
  if (path === undefined) return [];
  const found: GroupDoc[] = [];
  let level: readonly GroupDoc[] = document.groups;
  for (const name of path.split('/')) {
    const group = level.find((g) => g.name === name);
    if (group === undefined) break;
    found.push(group);
    level = group.groups;
  }
  return found;
};

/** The resolution that asked for the review, looked up in the current policy document. */
const reviewingResolution = (document: PolicyDocument, record: DecisionRecord): ResolutionDoc | undefined => {
  const groups = groupsAlong(document, record.group);
  switch (record.via) {
    case 'rule': {
      const rules = record.group === undefined ? document.rules : (groups.at(-1)?.rules ?? []);
      return rules.find((rule) => rule.name === record.rule)?.resolution;
    }
    case 'group_fallback':
      return groups.at(-1)?.fallback;
    case 'default_fallback':
      return document.settings.default_fallback;
    case 'no_match':
      return undefined;
  }
};

const isManual = (strategy: Strategy): boolean => strategy.name === 'manual_review';

/**
 * What an overdue review escalates to: the reviewing rule's `on_timeout` strategy; else the enclosing
 * groups' fallbacks (innermost first), then `settings.default_fallback` — skipping manual review,
 * which would only reopen it. Undefined when nothing applies: the current values then stand.
 */
export const escalationStrategy = (options: EscalationOptions): Escalation | undefined => {
  const { policy, record } = options;
  const registry = options.registry ?? createStrategyRegistry();
  const problems: StrategyProblem[] = [];
  const compile = (ref: unknown): Strategy | undefined => {
    const strategy = registry.compileRef(ref, 'escalation', problems);
    return strategy === undefined || isManual(strategy) ? undefined : strategy;
  };
  const document = policy.document;
  const resolution = reviewingResolution(document, record);
  const onTimeout = isPlainObject(resolution?.options) ? resolution.options['on_timeout'] : undefined;
  const fromRule = onTimeout === undefined ? undefined : compile(onTimeout);
  if (fromRule !== undefined) return { strategy: fromRule, source: 'on_timeout' };
  if (record.review?.onTimeout !== undefined) {
    const named = compile(record.review.onTimeout);
    if (named !== undefined) return { strategy: named, source: 'on_timeout' };
  }
  const groups = groupsAlong(document, record.group);
  for (let i = groups.length - 1; i >= 0; i--) {
    const group = groups[i];
    if (group?.fallback === undefined) continue;
    const strategy = compile(group.fallback);
    if (strategy !== undefined) {
      const path = groups
        .slice(0, i + 1)
        .map((g) => g.name)
        .join('/');
      return { strategy, source: `group_fallback:${path}` };
    }
  }
  const fallback = document.settings.default_fallback;
  const strategy = fallback === undefined ? undefined : compile(fallback);
  return strategy === undefined ? undefined : { strategy, source: 'default_fallback' };
};
