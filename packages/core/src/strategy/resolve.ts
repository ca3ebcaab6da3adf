import type { Conflict } from '../conflict/types.js';
import type { JsonValue } from '../json.js';
import type { FieldRule } from './field-rules.js';
import type { FieldChoice, StrategyResult } from './types.js';

/** Shared empty reason list (results are read-only). */
export const NO_REASONS: readonly string[] = Object.freeze([]);

/** Options for `resolveFields`. */
export interface ResolveFieldsOptions {
  readonly strategy: string;
  /** The rule for each overlapping field. */
  readonly ruleFor: (field: string) => FieldRule;
  readonly reasons?: readonly string[];
}

/**
 * Resolve every overlapping field with its rule and assemble a `resolved` result. The building block of
 * field-level strategies, built-in and custom.
 */
export const resolveFields = (conflict: Conflict, options: ResolveFieldsOptions): StrategyResult => {
  const fields: Record<string, JsonValue | undefined> = {};
  const choices: FieldChoice[] = [];
  for (const field of conflict.overlappingFields) {
    const c = options.ruleFor(field)(conflict, field);
    fields[field] = c.value;
    choices.push(c);
  }
  return {
    decision: 'resolved',
    strategy: options.strategy,
    fields,
    choices,
    reasons: options.reasons ?? NO_REASONS,
  };
};

/** Keep every overlapping field's current value, each with `reason` (reject, pending review). */
export const keepLocal = (conflict: Conflict, reason: string): Pick<StrategyResult, 'fields' | 'choices'> => {
  const fields: Record<string, JsonValue | undefined> = {};
  const choices: FieldChoice[] = [];
  for (const field of conflict.overlappingFields) {
    const value = conflict.local[field]?.value;
    fields[field] = value;
    choices.push({ field, source: 'local', value, reason });
  }
  return { fields, choices };
};
