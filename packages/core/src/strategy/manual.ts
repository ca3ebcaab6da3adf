import { parseDuration, readOptions } from './options.js';
import { keepLocal } from './resolve.js';
import type { FieldChoice, ReviewInfo, Strategy, StrategyDefinition, StrategyResult } from './types.js';

/**
 * Hold the conflict for a human decision (`pending_review`). Options: `provisional` — a strategy
 * (name or `{ strategy, options }`) whose result applies meanwhile; `timeout` — ms or `30m`/`24h`/`7d`;
 * `on_timeout` — strategy to apply when the timeout elapses; `escalate_to` — who to escalate to.
 * Without `provisional` the current values stay.
 */
export const manualReview: StrategyDefinition = {
  name: 'manual_review',
  aliases: ['manual'],
  description: 'hold for a human decision, optionally applying a provisional strategy',
  // go-sync-kit's manual_review takes no options: a file written for it loads, with a warning.
  unknownOptions: 'warn',
  compile: (options, ctx) => {
    const opts = readOptions(options, ctx, ['provisional', 'timeout', 'on_timeout', 'escalate_to', 'reason']);
    const provisional =
      opts['provisional'] === undefined ? undefined : ctx.compileNested(opts['provisional'], '.provisional');
    const onTimeout =
      opts['on_timeout'] === undefined ? undefined : ctx.compileNested(opts['on_timeout'], '.on_timeout');
    let timeoutMs: number | undefined;
    if (opts['timeout'] !== undefined) {
      timeoutMs = parseDuration(opts['timeout']);
      if (timeoutMs === undefined)
        ctx.problem('.timeout', 'must be a positive duration (ms, or like "30m", "24h", "7d")');
    }
    const escalateTo = opts['escalate_to'];
    if (escalateTo !== undefined && typeof escalateTo !== 'string')
      ctx.problem('.escalate_to', 'must be a string');
    if (opts['reason'] !== undefined && typeof opts['reason'] !== 'string')
      ctx.problem('.reason', 'must be a string');
    const reason =
      typeof opts['reason'] === 'string' ? opts['reason'] : 'the policy asks for a human decision';
    return manualStrategy({
      reason,
      review: {
        ...(provisional ? { provisionalStrategy: provisional.name } : {}),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(onTimeout ? { onTimeout: onTimeout.name } : {}),
        ...(typeof escalateTo === 'string' ? { escalateTo } : {}),
      },
      provisional,
    });
  },
};

/** Options for `manualStrategy`. */
export interface ManualStrategyOptions {
  readonly reason: string;
  readonly review: ReviewInfo;
  readonly provisional?: Strategy | undefined;
}

/** A compiled manual-review strategy (also what the engine uses when no rule matched). */
export const manualStrategy = (options: ManualStrategyOptions): Strategy => {
  const reasons = [options.reason];
  const { review, provisional } = options;
  return {
    name: 'manual_review',
    resolve: (conflict): StrategyResult => {
      if (provisional === undefined) {
        return {
          decision: 'pending_review',
          strategy: 'manual_review',
          ...keepLocal(conflict, 'awaiting review: current value kept'),
          reasons,
          review,
        };
      }
      const p = provisional.resolve(conflict);
      const choices: FieldChoice[] = p.choices.map((c) => ({
        ...c,
        reason: `provisional (${p.strategy}): ${c.reason}`,
      }));
      return {
        decision: 'pending_review',
        strategy: 'manual_review',
        fields: p.fields,
        choices,
        reasons: p.reasons.length === 0 ? reasons : [...reasons, ...p.reasons],
        review,
      };
    },
  };
};
