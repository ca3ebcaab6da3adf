import type { Conflict } from '../conflict/types.js';
import type { JsonValue } from '../json.js';

/** What a strategy decided for the conflict as a whole. */
export type ResolutionDecision = 'resolved' | 'pending_review' | 'rejected';

/** Where a field's resolved value came from: the aggregate (local), the event (remote), or both. */
export type FieldSource = 'local' | 'remote' | 'merged';

/** The choice made for one overlapping field, with a human-readable reason. */
export interface FieldChoice {
  readonly field: string;
  readonly source: FieldSource;
  /** The resolved value (`undefined`: the field stays absent). */
  readonly value: JsonValue | undefined;
  readonly reason: string;
}

/** For `pending_review`: what applies meanwhile and what happens when nobody decides. */
export interface ReviewInfo {
  /** Strategy whose result applies provisionally (its values are in `fields`), if any. */
  readonly provisionalStrategy?: string;
  /** How long a human has before escalation, in milliseconds. */
  readonly timeoutMs?: number;
  /** Strategy to apply when the timeout elapses. */
  readonly onTimeout?: string;
  /** Who to escalate to when the timeout elapses. */
  readonly escalateTo?: string;
}

/** A strategy's verdict on one conflict. */
export interface StrategyResult {
  readonly decision: ResolutionDecision;
  /** Canonical name of the strategy that decided. */
  readonly strategy: string;
  /** Resolved value per overlapping field (for `pending_review`: the provisional or current values). */
  readonly fields: Readonly<Record<string, JsonValue | undefined>>;
  /** One choice per overlapping field, in `overlappingFields` order. */
  readonly choices: readonly FieldChoice[];
  /** Strategy-level reasons (field-level ones are in `choices`). */
  readonly reasons: readonly string[];
  readonly review?: ReviewInfo;
  readonly rejection?: { readonly code: string; readonly reason: string };
}

/** A compiled strategy: options already validated, ready to resolve many conflicts. */
export interface Strategy {
  readonly name: string;
  resolve(conflict: Conflict): StrategyResult;
}

/** Where option problems are reported while compiling a strategy. */
export interface OptionsContext {
  /** Path of the options object, e.g. `rules[2].resolution.options`. */
  readonly path: string;
  /** Report a problem at `path` + `subPath` (e.g. `.order`). */
  problem(subPath: string, message: string): void;
  /**
   * Report an option the strategy does not know: a problem, or a warning for a strategy whose
   * `unknownOptions` is `warn`.
   */
  unknownOption(subPath: string, message: string): void;
  /** Compile a nested strategy reference (e.g. manual_review's `provisional`). */
  compileNested(ref: unknown, subPath: string): Strategy | undefined;
}

/** A strategy kind: a name, aliases, and how to compile its options. Register custom ones in code. */
export interface StrategyDefinition {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly description?: string;
  /**
   * How an option the strategy does not know is reported: `error` (default) fails the load; `warn`
   * loads with a warning. go-sync-kit's own strategies take `warn`: go-sync-kit ignores their options,
   * so its rule files may carry some (`prefer` on last_write_wins) and must still load.
   */
  readonly unknownOptions?: 'error' | 'warn';
  compile(options: unknown, ctx: OptionsContext): Strategy;
}
