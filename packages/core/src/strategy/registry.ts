import { ConcordError, coreErrors } from '../errors.js';
import { isPlainObject } from '../json.js';
import {
  additiveMergeStrategy,
  fieldMerge,
  firstWriteWins,
  lastWriteWins,
  reject,
} from './builtin-simple.js';
import { preferSource, stateMachine } from './builtin-ordered.js';
import { normalizeName } from './field-rules.js';
import { manualReview } from './manual.js';
import type { OptionsContext, Strategy, StrategyDefinition } from './types.js';

/** The strategies every registry starts with (DESIGN §6). */
export const BUILTIN_STRATEGIES: readonly StrategyDefinition[] = [
  lastWriteWins,
  firstWriteWins,
  additiveMergeStrategy,
  fieldMerge,
  preferSource,
  stateMachine,
  manualReview,
  reject,
];

/** A problem found while compiling strategies: a path and a message. */
export interface StrategyProblem {
  readonly path: string;
  readonly message: string;
}

/** Options for `StrategyRegistry.compile`. */
export interface CompileStrategyOptions {
  /** Strategy name or alias (case-insensitive; `_`, `-`, spaces ignored). */
  readonly name: unknown;
  readonly options: unknown;
  /** Path of the resolution, e.g. `rules[2].resolution`; problems are reported under it. */
  readonly path: string;
  /** Path of the strategy name relative to `path` (default `.strategy`). */
  readonly namePath?: string;
  readonly problems: StrategyProblem[];
  /** Where options a lenient strategy ignores are reported (default: nowhere). */
  readonly warnings?: StrategyProblem[];
}

/**
 * Strategies by name. Names and aliases are case-insensitive and ignore `_`/`-`/spaces, so `LWW`,
 * `last-write-wins` and `last_write_wins` are the same strategy. Register custom strategies in code
 * before loading a policy that names them.
 */
export class StrategyRegistry {
  private readonly byName = new Map<string, StrategyDefinition>();

  constructor(definitions: readonly StrategyDefinition[] = BUILTIN_STRATEGIES) {
    for (const definition of definitions) this.register(definition);
  }

  /** Add a strategy; throws `CONCORD_STRATEGY_DUPLICATE` if a name or alias is taken. */
  register(definition: StrategyDefinition): this {
    const keys = [definition.name, ...(definition.aliases ?? [])].map(normalizeName);
    for (const key of keys) {
      if (key.length === 0 || this.byName.has(key)) {
        throw new ConcordError(
          coreErrors.STRATEGY_DUPLICATE,
          `strategy name "${key}" is empty or already registered`,
        );
      }
    }
    for (const key of keys) this.byName.set(key, definition);
    return this;
  }

  /** The definition for a name or alias, or undefined. */
  get(name: string): StrategyDefinition | undefined {
    return this.byName.get(normalizeName(name));
  }

  /** Canonical names of all registered strategies. */
  names(): string[] {
    return [...new Set([...this.byName.values()].map((d) => d.name))];
  }

  /**
   * Compile a strategy reference, reporting an unknown name or bad options into `problems`. Returns
   * undefined only when the name is unknown.
   */
  compile(options: CompileStrategyOptions): Strategy | undefined {
    const namePath = options.namePath ?? '.strategy';
    const { name, problems, path } = options;
    if (typeof name !== 'string' || name.length === 0) {
      problems.push({ path: `${path}${namePath}`, message: 'strategy is required' });
      return undefined;
    }
    const definition = this.get(name);
    if (!definition) {
      problems.push({ path: `${path}${namePath}`, message: `unknown strategy "${name}"` });
      return undefined;
    }
    const optionsPath = `${path}.options`;
    const warnings = options.warnings;
    const ctx: OptionsContext = {
      path: optionsPath,
      problem: (sub, message) => problems.push({ path: `${optionsPath}${sub}`, message }),
      unknownOption: (sub, message) =>
        (definition.unknownOptions === 'warn' ? warnings : problems)?.push({
          path: `${optionsPath}${sub}`,
          message: definition.unknownOptions === 'warn' ? `${message}: ignored` : message,
        }),
      compileNested: (ref, sub) => this.compileRef(ref, `${optionsPath}${sub}`, problems, warnings),
    };
    return definition.compile(options.options, ctx);
  }

  /** Compile a reference written as a name or as `{ strategy, options }`. */
  compileRef(
    ref: unknown,
    path: string,
    problems: StrategyProblem[],
    warnings?: StrategyProblem[],
  ): Strategy | undefined {
    const reports = warnings === undefined ? { problems } : { problems, warnings };
    if (typeof ref === 'string')
      return this.compile({ name: ref, options: undefined, path, namePath: '', ...reports });
    if (isPlainObject(ref)) {
      for (const key of Object.keys(ref)) {
        if (key !== 'strategy' && key !== 'options')
          problems.push({ path: `${path}.${key}`, message: `unknown key "${key}"` });
      }
      return this.compile({ name: ref['strategy'], options: ref['options'], path, ...reports });
    }
    problems.push({ path, message: 'must be a strategy name or { strategy, options }' });
    return undefined;
  }
}

/** A registry holding the built-in strategies plus `custom` ones. */
export const createStrategyRegistry = (custom: readonly StrategyDefinition[] = []): StrategyRegistry =>
  new StrategyRegistry([...BUILTIN_STRATEGIES, ...custom]);
