import { isPlainObject } from '../json.js';
import { CONDITION_SIDES } from '../spec/side.js';
import type { MetadataScalar } from '../spec/spec.js';
import type {
  ConditionsDoc,
  GroupDoc,
  PolicyDocument,
  PolicyProblem,
  ResolutionDoc,
  RuleDoc,
} from './types.js';

const ANNOTATIONS = ['description', 'metadata', 'tags'];
const RULE_KEYS = ['name', 'priority', 'enabled', 'conditions', 'resolution', ...ANNOTATIONS];
const GROUP_KEYS = [
  'name',
  'priority',
  'enabled',
  'conditions',
  'rules',
  'groups',
  'subgroups',
  'fallback',
  ...ANNOTATIONS,
];
const TOP_KEYS = ['version', 'name', 'description', 'settings', 'rules', 'groups', 'metadata'];
const LIST_CONDITIONS = [
  'event_types',
  'aggregate_types',
  'aggregate_ids',
  'fields',
  'fields_all',
  'origins',
  'relations',
];
const RELATIONS = ['stale_base', 'concurrent'];

/**
 * Validate a parsed policy file (the DESIGN §6 format, a superset of go-sync-kit's) and normalise it:
 * single values become lists, `priority` defaults to 0, `enabled` to true, `subgroups` joins `groups`.
 * Reports every structural problem with its path; strategy names and options are checked at compile.
 * Unknown keys fail, except under `settings` (ignored) and annotations (`description`, `metadata`, `tags`).
 * Names are unique per scope, as go-sync-kit checks them: among the top-level rules, among the
 * top-level groups, and among one group's rules and among its subgroups.
 */
export const normalizeDocument = (input: unknown, problems: PolicyProblem[]): PolicyDocument => {
  const r = new Reader(problems);
  if (!isPlainObject(input)) {
    problems.push({ path: '', message: 'a policy must be a mapping with `rules` and/or `groups`' });
    return { version: '1.0', name: '', settings: {}, rules: [], groups: [] };
  }
  r.keys(input, '', TOP_KEYS);
  const version =
    input['version'] === undefined ? '1.0' : String(r.scalar(input['version'], 'version') ?? '1.0');
  const name = r.string(input['name'], 'name', false) ?? 'policy';
  const description = r.string(input['description'], 'description', false);
  const settings = input['settings'] ?? {};
  let fallback: ResolutionDoc | undefined;
  if (!isPlainObject(settings)) problems.push({ path: 'settings', message: 'must be a mapping' });
  else if (settings['default_fallback'] !== undefined && settings['default_fallback'] !== null) {
    fallback = r.resolutionRef(settings['default_fallback'], 'settings.default_fallback');
  }
  const ruleNames = new Map<string, string>();
  const groupNames = new Map<string, string>();
  const rules = r.list(input['rules'], 'rules').map((raw, i) => r.rule(raw, `rules[${i}]`, ruleNames));
  const groups = r.list(input['groups'], 'groups').map((raw, i) => r.group(raw, `groups[${i}]`, groupNames));
  if (input['rules'] === undefined && input['groups'] === undefined && fallback === undefined) {
    problems.push({ path: '', message: 'a policy needs `rules`, `groups` or `settings.default_fallback`' });
  }
  return {
    version,
    name,
    ...(description === undefined ? {} : { description }),
    settings: fallback === undefined ? {} : { default_fallback: fallback },
    rules,
    groups,
  };
};

class Reader {
  constructor(private readonly problems: PolicyProblem[]) {}

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  keys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.problem(join(path, key), `unknown key "${key}"`);
    }
  }

  scalar(value: unknown, path: string): string | number | boolean | undefined {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    this.problem(path, 'must be a string, number or boolean');
    return undefined;
  }

  string(value: unknown, path: string, required: boolean): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.problem(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'string' || value.trim().length === 0) {
      this.problem(path, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  list(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(path, 'must be a list');
      return [];
    }
    return value;
  }

  priority(value: unknown, path: string): number {
    if (value === undefined || value === null) return 0;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problem(path, 'must be a number');
      return 0;
    }
    return value;
  }

  enabled(value: unknown, path: string): boolean {
    if (value === undefined || value === null) return true;
    if (typeof value !== 'boolean') {
      this.problem(path, 'must be true or false');
      return true;
    }
    return value;
  }

  name(value: unknown, path: string, names: Map<string, string>): string {
    const name = this.string(value, path, true) ?? `<unnamed ${path}>`;
    const previous = names.get(name);
    if (previous !== undefined) this.problem(path, `duplicate name "${name}" (also at ${previous})`);
    else names.set(name, path);
    return name;
  }

  resolutionRef(value: unknown, path: string): ResolutionDoc | undefined {
    if (typeof value === 'string') return { strategy: value };
    if (isPlainObject(value)) {
      this.keys(value, path, ['strategy', 'options']);
      const strategy = this.string(value['strategy'], join(path, 'strategy'), true);
      if (strategy === undefined) return undefined;
      return value['options'] === undefined ? { strategy } : { strategy, options: value['options'] };
    }
    this.problem(path, 'must be a strategy name or { strategy, options }');
    return undefined;
  }

  rule(raw: unknown, path: string, names: Map<string, string>): RuleDoc {
    if (!isPlainObject(raw)) {
      this.problem(path, 'a rule must be a mapping');
      return {
        name: `<invalid ${path}>`,
        priority: 0,
        enabled: false,
        conditions: {},
        resolution: { strategy: '' },
      };
    }
    this.keys(raw, path, RULE_KEYS);
    const description = this.string(raw['description'], join(path, 'description'), false);
    let resolution: ResolutionDoc | undefined;
    if (raw['resolution'] === undefined) this.problem(join(path, 'resolution'), 'is required');
    else if (!isPlainObject(raw['resolution']))
      this.problem(join(path, 'resolution'), 'must be { strategy, options }');
    else resolution = this.resolutionRef(raw['resolution'], join(path, 'resolution'));
    return {
      name: this.name(raw['name'], join(path, 'name'), names),
      ...(description === undefined ? {} : { description }),
      priority: this.priority(raw['priority'], join(path, 'priority')),
      enabled: this.enabled(raw['enabled'], join(path, 'enabled')),
      conditions: this.conditions(raw['conditions'], join(path, 'conditions')) ?? {},
      resolution: resolution ?? { strategy: '' },
    };
  }

  group(raw: unknown, path: string, names: Map<string, string>): GroupDoc {
    if (!isPlainObject(raw)) {
      this.problem(path, 'a group must be a mapping');
      return { name: `<invalid ${path}>`, priority: 0, enabled: false, rules: [], groups: [] };
    }
    this.keys(raw, path, GROUP_KEYS);
    const description = this.string(raw['description'], join(path, 'description'), false);
    const conditions = this.conditions(raw['conditions'], join(path, 'conditions'));
    const fallbackRaw = raw['fallback'];
    const fallback =
      fallbackRaw === undefined || fallbackRaw === null
        ? undefined
        : this.resolutionRef(fallbackRaw, join(path, 'fallback'));
    const name = this.name(raw['name'], join(path, 'name'), names);
    const ruleNames = new Map<string, string>();
    const groupNames = new Map<string, string>();
    const rules = this.list(raw['rules'], join(path, 'rules')).map((r, i) =>
      this.rule(r, `${path}.rules[${i}]`, ruleNames),
    );
    const groups = [
      ...this.list(raw['groups'], join(path, 'groups')).map((g, i) =>
        this.group(g, `${path}.groups[${i}]`, groupNames),
      ),
      ...this.list(raw['subgroups'], join(path, 'subgroups')).map((g, i) =>
        this.group(g, `${path}.subgroups[${i}]`, groupNames),
      ),
    ];
    return {
      name,
      ...(description === undefined ? {} : { description }),
      priority: this.priority(raw['priority'], join(path, 'priority')),
      enabled: this.enabled(raw['enabled'], join(path, 'enabled')),
      ...(conditions === undefined ? {} : { conditions }),
      rules,
      groups,
      ...(fallback === undefined ? {} : { fallback }),
    };
  }

  conditions(raw: unknown, path: string): ConditionsDoc | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (!isPlainObject(raw)) {
      this.problem(path, 'must be a mapping');
      return undefined;
    }
    this.keys(raw, path, [...LIST_CONDITIONS, 'metadata', 'custom_match', 'side']);
    const out: Record<string, unknown> = {};
    for (const key of LIST_CONDITIONS) {
      if (raw[key] === undefined || raw[key] === null) continue;
      const values = this.stringList(raw[key], join(path, key));
      if (key === 'relations') {
        values.forEach((v, i) => {
          if (!RELATIONS.includes(v))
            this.problem(`${join(path, key)}[${i}]`, `must be one of ${RELATIONS.join(', ')}`);
        });
      }
      out[key] = values;
    }
    if (raw['metadata'] !== undefined && raw['metadata'] !== null) {
      const meta = raw['metadata'];
      if (!isPlainObject(meta)) this.problem(join(path, 'metadata'), 'must be a mapping of key to value(s)');
      else {
        const m: Record<string, MetadataScalar[]> = {};
        for (const [key, value] of Object.entries(meta))
          m[key] = this.scalarList(value, join(join(path, 'metadata'), key));
        out['metadata'] = m;
      }
    }
    if (raw['side'] !== undefined && raw['side'] !== null) {
      const side = raw['side'];
      if (typeof side === 'string' && (CONDITION_SIDES as readonly string[]).includes(side))
        out['side'] = side;
      else this.problem(join(path, 'side'), `must be one of ${CONDITION_SIDES.join(', ')}`);
    }
    if (raw['custom_match'] !== undefined && raw['custom_match'] !== null) {
      const custom = raw['custom_match'];
      const customPath = join(path, 'custom_match');
      if (!isPlainObject(custom) || Object.keys(custom).length === 0) {
        this.problem(customPath, 'must be a non-empty mapping of spec name to its argument');
      } else {
        const m: Record<string, string> = {};
        for (const [key, value] of Object.entries(custom)) {
          if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
            m[key] = String(value);
          else this.problem(join(customPath, key), 'must be a string, number or boolean');
        }
        out['custom_match'] = m;
      }
    }
    return out;
  }

  stringList(value: unknown, path: string): string[] {
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) this.problem(path, 'must not be empty (an empty list matches nothing)');
    const out: string[] = [];
    items.forEach((item, i) => {
      if (typeof item === 'string' && item.length > 0) out.push(item);
      else this.problem(Array.isArray(value) ? `${path}[${i}]` : path, 'must be a non-empty string');
    });
    return out;
  }

  scalarList(value: unknown, path: string): MetadataScalar[] {
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) this.problem(path, 'must not be empty (an empty list matches nothing)');
    const out: MetadataScalar[] = [];
    items.forEach((item, i) => {
      if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') out.push(item);
      else this.problem(Array.isArray(value) ? `${path}[${i}]` : path, 'must be a string, number or boolean');
    });
    return out;
  }
}

const SIMPLE = /^[A-Za-z_][\w-]*$/;
const join = (path: string, key: string): string =>
  SIMPLE.test(key) ? (path === '' ? key : `${path}.${key}`) : `${path}[${JSON.stringify(key)}]`;
