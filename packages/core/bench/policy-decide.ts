import { Engine } from 'json-rules-engine';
import type { Conflict } from '@concord/core/conflict';
import { loadPolicyOrThrow } from '@concord/core/policy';

export const RULES = 20;
export const MATCH_AT = 11;

const sourcesOf = (rules: number): string[] => Array.from({ length: rules }, (_, i) => `system-${i + 1}`);
const sources = sourcesOf(RULES);

/**
 * 20 rules, all on TaskUpdated/ProjectUpdated tasks touching `title`; each owns one metadata source,
 * so rules 1..10 fail on their third condition and rule 11 matches. Priorities descend in file order.
 */
export const concordPolicyYaml = (rules = RULES, strategy = 'last_write_wins'): string =>
  [
    'name: bench',
    'rules:',
    ...sourcesOf(rules).map(
      (source, i) =>
        `  - { name: rule-${i + 1}, priority: ${rules - i}, conditions: { event_types: [TaskUpdated, ProjectUpdated], aggregate_types: [task], metadata: { source: [${source}] }, fields: [title, notes] }, resolution: { strategy: ${strategy} } }`,
    ),
  ].join('\n');

/** The same rule set for json-rules-engine: same conditions, priorities, first match stops the run. */
export const peerEngine = (): Engine => {
  const engine = new Engine([], { allowUndefinedFacts: true });
  sources.forEach((source, i) => {
    engine.addRule({
      name: `rule-${i + 1}`,
      priority: RULES - i,
      conditions: {
        all: [
          { fact: 'eventType', operator: 'in', value: ['TaskUpdated', 'ProjectUpdated'] },
          { fact: 'aggregateType', operator: 'in', value: ['task'] },
          { fact: 'source', operator: 'in', value: [source] },
          { fact: 'fields', operator: 'containsAny', value: ['title', 'notes'] },
        ],
      },
      event: { type: 'last_write_wins', params: { rule: `rule-${i + 1}` } },
      onSuccess: () => {
        engine.stop();
      },
    });
  });
  engine.addOperator('containsAny', (fact: unknown, value: unknown) =>
    Array.isArray(fact) && Array.isArray(value) ? fact.some((f) => value.includes(f)) : false,
  );
  return engine;
};

export const benchConflict = (matchAt = MATCH_AT, id = 'c-bench'): Conflict => ({
  id,
  event: {
    id: 'e-remote',
    type: 'TaskUpdated',
    aggregateType: 'task',
    aggregateId: 'task-42',
    origin: 'phone-b',
    hlc: '001700000000200-000000-phone-b',
    data: { title: 'Buy oat milk' },
    metadata: { source: `system-${matchAt}` },
  },
  relation: 'stale_base',
  currentVersion: 7,
  baseVersion: 5,
  changedFields: ['title'],
  concurrentFields: ['title'],
  overlappingFields: ['title'],
  local: {
    title: {
      value: 'Buy milk',
      version: 6,
      eventId: 'e-local',
      hlc: '001700000000100-000000-phone-a',
      origin: 'phone-a',
    },
  },
});

export const peerFacts = (c: Conflict): Record<string, unknown> => ({
  eventType: c.event.type,
  aggregateType: c.event.aggregateType,
  source: c.event.metadata?.['source'],
  fields: c.overlappingFields,
});

export const concordPolicy = (rules = RULES, strategy = 'last_write_wins') =>
  loadPolicyOrThrow(concordPolicyYaml(rules, strategy));
