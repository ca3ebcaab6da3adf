import type { Conflict } from '../conflict/types.js';
import { fieldRuleNamed, FIELD_RULE_NAMES, lastWriteWinsField, type FieldRule } from './field-rules.js';
import { readOptions, readStringList } from './options.js';
import { resolveFields } from './resolve.js';
import { localSide, remoteValue } from './sides.js';
import type { FieldChoice, OptionsContext, StrategyDefinition } from './types.js';

const readTieRule = (value: unknown, ctx: OptionsContext, subPath: string): FieldRule => {
  if (value === undefined) return lastWriteWinsField;
  const found = fieldRuleNamed(value);
  if (!found)
    ctx.problem(subPath, `unknown field rule ${JSON.stringify(value)} (one of ${FIELD_RULE_NAMES})`);
  return found?.rule ?? lastWriteWinsField;
};

/**
 * The write from the higher-ranked source wins. `order` lists sources, most trusted first; `by` says
 * what identifies a source: `source` (the event's `metadata.source`, default) or `origin`. Unlisted
 * sources rank below listed ones; equal ranks use `tie` (a field rule, default last_write_wins).
 */
export const preferSource: StrategyDefinition = {
  name: 'prefer_source',
  description: 'the write from the more trusted source wins',
  compile: (options, ctx) => {
    const opts = readOptions(options, ctx, ['order', 'by', 'tie']);
    const order = readStringList(opts['order'], ctx, '.order') ?? [];
    const by = opts['by'] ?? 'source';
    if (by !== 'source' && by !== 'origin') ctx.problem('.by', 'must be "source" or "origin"');
    const tie = readTieRule(opts['tie'], ctx, '.tie');
    const rank = new Map(order.map((s, i) => [s, i]));
    const rankOf = (s: string | undefined) =>
      s === undefined ? order.length : (rank.get(s) ?? order.length);
    const remoteSource = (c: Conflict): string | undefined => {
      const value = by === 'origin' ? c.event.origin : c.event.metadata?.['source'];
      return typeof value === 'string' ? value : undefined;
    };
    const rule: FieldRule = (conflict, field): FieldChoice => {
      const local = localSide(conflict, field);
      const ls = by === 'origin' ? local?.origin : local?.source;
      const rs = remoteSource(conflict);
      const lr = rankOf(ls);
      const rr = rankOf(rs);
      if (lr === rr) {
        const c = tie(conflict, field);
        return { ...c, reason: `sources rank equally ("${rs ?? 'none'}", "${ls ?? 'none'}"); ${c.reason}` };
      }
      const remoteWins = rr < lr;
      return {
        field,
        source: remoteWins ? 'remote' : 'local',
        value: remoteWins ? remoteValue(conflict, field) : local?.value,
        reason: `${remoteWins ? 'remote' : 'local'} source "${(remoteWins ? rs : ls) ?? 'none'}" outranks "${(remoteWins ? ls : rs) ?? 'none'}" in [${order.join(', ')}]`,
      };
    };
    return {
      name: 'prefer_source',
      resolve: (conflict) => resolveFields(conflict, { strategy: 'prefer_source', ruleFor: () => rule }),
    };
  },
};

/**
 * A state field only moves forward: `field` names it, `order` lists its states from first to last; the
 * value further along wins (an unknown state loses to a known one; two unknown states use last_write_wins).
 * Other overlapping fields use `others` (a field rule, default last_write_wins).
 */
export const stateMachine: StrategyDefinition = {
  name: 'state_machine',
  description: 'a state field only moves forward along `order`',
  compile: (options, ctx) => {
    const opts = readOptions(options, ctx, ['field', 'order', 'others']);
    const stateField = opts['field'];
    if (typeof stateField !== 'string' || stateField.length === 0)
      ctx.problem('.field', 'must name the state field');
    const order = readStringList(opts['order'], ctx, '.order') ?? [];
    if (order.length === 1) ctx.problem('.order', 'needs at least two states');
    const others = readTieRule(opts['others'], ctx, '.others');
    const rank = new Map<unknown, number>(order.map((s, i) => [s, i]));
    const forward: FieldRule = (conflict, field): FieldChoice => {
      const local = localSide(conflict, field)?.value;
      const remote = remoteValue(conflict, field);
      const lr = rank.get(local);
      const rr = rank.get(remote);
      if (lr === undefined && rr === undefined) {
        const c = lastWriteWinsField(conflict, field);
        return { ...c, reason: `neither state is in [${order.join(', ')}]; ${c.reason}` };
      }
      const remoteWins = lr === undefined || (rr !== undefined && rr > lr);
      const from = JSON.stringify(remoteWins ? local : remote);
      const to = JSON.stringify(remoteWins ? remote : local);
      return {
        field,
        source: remoteWins ? 'remote' : 'local',
        value: remoteWins ? remote : local,
        reason:
          lr === rr
            ? `both sides are in state ${to}`
            : `${remoteWins ? 'remote' : 'local'} state ${to} is further along than ${from} in [${order.join(', ')}]`,
      };
    };
    const ruleFor = (field: string): FieldRule => (field === stateField ? forward : others);
    return {
      name: 'state_machine',
      resolve: (conflict) => resolveFields(conflict, { strategy: 'state_machine', ruleFor }),
    };
  },
};
