import { localId } from '../envelope/tenants.js';
import { ConcordError, coreErrors, isConcordError } from '../errors.js';
import { compileIdPatterns } from '../spec/pattern.js';
import { metadataOnSide, originOnSide, STORED_METADATA_KEY, typedList } from '../spec/side.js';
import {
  aggregateType,
  eventType,
  fieldsAllOf,
  fieldsAnyOf,
  origin,
  versionRelation,
  type Spec,
} from '../spec/spec.js';
import type { ConditionsDoc, PolicyProblem, SkippedEntry } from './types.js';

/** One compiled condition: its test, a label for explanations, and its prebuilt "did not hold" entry. */
export interface CompiledCondition {
  readonly test: Spec;
  readonly label: string;
  readonly skip: SkippedEntry;
}

/** Options for `compileConditions`. */
export interface CompileConditionsOptions {
  readonly conditions: ConditionsDoc | undefined;
  readonly path: string;
  /** The skipped entry to extend (kind, name, group). */
  readonly owner: Omit<SkippedEntry, 'reason' | 'condition'>;
  readonly problems: PolicyProblem[];
}

const list = (values: readonly unknown[]): string => `[${values.map(String).join(', ')}]`;

/**
 * `aggregate_ids` against the aggregate id as its tenant knows it (DESIGN §5 "Tenants"): a tenant's
 * aggregate ids are stored scoped (`acme` U+001F `task-1`), and a rule names ids the way writers do
 * (`task-1`, `task-*`), so it matches that id in every tenant and a pattern never sees a tenant's prefix.
 */
const localAggregateId = (patterns: readonly string[]): Spec => {
  const test = compileIdPatterns(patterns);
  return (c) => c !== undefined && test(localId(c.event.aggregateId));
};

/**
 * Compile conditions into specs, once, in a fixed order (cheap, selective tests first): AND across keys,
 * OR inside each list. Bad regexes are reported with their path.
 */
export const compileConditions = (options: CompileConditionsOptions): CompiledCondition[] => {
  const c = options.conditions;
  if (c === undefined) return [];
  const out: CompiledCondition[] = [];
  const add = (key: string, label: string, make: () => Spec): void => {
    try {
      const test = make();
      out.push({
        test,
        label,
        skip: Object.freeze({ ...options.owner, reason: 'conditions_not_met', condition: label }),
      });
    } catch (error) {
      options.problems.push({
        path: `${options.path}.${key}`,
        message: isConcordError(error) ? error.message : String(error),
      });
    }
  };
  if (c.event_types)
    add('event_types', `event_types in ${list(c.event_types)}`, () => eventType(...(c.event_types ?? [])));
  if (c.aggregate_types) {
    add('aggregate_types', `aggregate_types in ${list(c.aggregate_types)}`, () =>
      aggregateType(...(c.aggregate_types ?? [])),
    );
  }
  const side = c.side ?? 'incoming';
  const onSide = side === 'incoming' ? '' : side === 'stored' ? 'stored ' : "either side's ";
  if (c.origins) {
    add('origins', `${onSide}origins in ${typedList(c.origins)}`, () =>
      side === 'incoming' ? origin(...(c.origins ?? [])) : originOnSide(c.origins ?? [], side),
    );
  }
  if (c.relations)
    add('relations', `relations in ${list(c.relations)}`, () => versionRelation(...(c.relations ?? [])));
  for (const [key, values] of Object.entries(c.metadata ?? {})) {
    add(`metadata.${key}`, `${onSide}metadata.${key} in ${typedList(values)}`, () => {
      if (side !== 'incoming' && key !== STORED_METADATA_KEY) {
        throw new ConcordError(
          coreErrors.POLICY_INVALID,
          `the stored side keeps only metadata.${STORED_METADATA_KEY} (and origin): test metadata.${key} with side: incoming`,
        );
      }
      return metadataOnSide(key, values, side);
    });
  }
  if (c.aggregate_ids) {
    add('aggregate_ids', `aggregate_ids match ${list(c.aggregate_ids)}`, () =>
      localAggregateId(c.aggregate_ids ?? []),
    );
  }
  if (c.fields)
    add('fields', `fields overlap any of ${list(c.fields)}`, () => fieldsAnyOf(...(c.fields ?? [])));
  if (c.fields_all)
    add('fields_all', `fields overlap all of ${list(c.fields_all)}`, () =>
      fieldsAllOf(...(c.fields_all ?? [])),
    );
  return out;
};
