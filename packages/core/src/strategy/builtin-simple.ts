import { coreErrors } from '../errors.js';
import {
  additiveField,
  FIELD_RULE_NAMES,
  fieldRuleNamed,
  firstWriteWinsField,
  lastWriteWinsField,
  type FieldRule,
} from './field-rules.js';
import { readOptions } from './options.js';
import { keepLocal, resolveFields } from './resolve.js';
import type { StrategyDefinition, StrategyResult } from './types.js';

/** A strategy applying one field rule to every overlapping field. go-sync-kit ignores their options. */
const uniform = (
  name: string,
  aliases: readonly string[],
  rule: FieldRule,
  description: string,
): StrategyDefinition => ({
  name,
  aliases,
  description,
  unknownOptions: 'warn',
  compile: (options, ctx) => {
    readOptions(options, ctx, []);
    const ruleFor = (): FieldRule => rule;
    return { name, resolve: (conflict) => resolveFields(conflict, { strategy: name, ruleFor }) };
  },
});

/** Per field, the later write by HLC wins; ties broken by origin, then event id. */
export const lastWriteWins = uniform(
  'last_write_wins',
  ['lww'],
  lastWriteWinsField,
  'per field, the later write (HLC, then origin, then event id) wins',
);

/** Per field, the earlier write wins (the reverse order of last_write_wins). */
export const firstWriteWins = uniform(
  'first_write_wins',
  ['fww'],
  firstWriteWinsField,
  'per field, the earlier write wins',
);

/** Arrays unioned, objects merged key by key; scalar conflicts fall back to last_write_wins. */
export const additiveMergeStrategy = uniform(
  'additive_merge',
  ['merge'],
  additiveField,
  'keep both sides\u2019 additions (arrays unioned, objects merged), scalars by last_write_wins',
);

/**
 * Per-field rules: `options.fields` maps field names to a rule (last_write_wins, first_write_wins, max,
 * min, sum, union, prefer_local, prefer_remote, additive_merge); `*` is the default for unlisted fields
 * (last_write_wins when absent).
 */
export const fieldMerge: StrategyDefinition = {
  name: 'field_merge',
  description: 'per-field rules with a `*` default',
  compile: (options, ctx) => {
    const opts = readOptions(options, ctx, ['fields']);
    const rules = new Map<string, FieldRule>();
    const spec = opts['fields'];
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      ctx.problem('.fields', 'must be a mapping of field name to rule');
    } else {
      for (const [field, ruleName] of Object.entries(spec as Record<string, unknown>)) {
        const found = fieldRuleNamed(ruleName);
        if (found) rules.set(field, found.rule);
        else
          ctx.problem(
            `.fields.${field}`,
            `unknown field rule ${JSON.stringify(ruleName)} (one of ${FIELD_RULE_NAMES})`,
          );
      }
    }
    const fallback = rules.get('*') ?? lastWriteWinsField;
    const ruleFor = (field: string): FieldRule => rules.get(field) ?? fallback;
    return {
      name: 'field_merge',
      resolve: (conflict) => resolveFields(conflict, { strategy: 'field_merge', ruleFor }),
    };
  },
};

/** Refuse the event: the aggregate keeps its values and the event's outcome is `rejected`. */
export const reject: StrategyDefinition = {
  name: 'reject',
  description: 'reject the incoming event; current values kept',
  compile: (options, ctx) => {
    const opts = readOptions(options, ctx, ['reason', 'code']);
    const reason = typeof opts['reason'] === 'string' ? opts['reason'] : 'the policy rejects this change';
    const code = opts['code'] ?? coreErrors.POLICY_REJECTED.code;
    if (typeof code !== 'string' || !/^CONCORD_[A-Z0-9_]+$/.test(code)) {
      ctx.problem('.code', 'must look like CONCORD_SOMETHING');
    }
    if (opts['reason'] !== undefined && typeof opts['reason'] !== 'string')
      ctx.problem('.reason', 'must be a string');
    const rejection = { code: typeof code === 'string' ? code : coreErrors.POLICY_REJECTED.code, reason };
    const reasons = [reason];
    return {
      name: 'reject',
      resolve: (conflict): StrategyResult => ({
        decision: 'rejected',
        strategy: 'reject',
        ...keepLocal(conflict, `rejected: ${reason}`),
        reasons,
        rejection,
      }),
    };
  },
};
