import { ConcordError, isPlainObject } from '@concord/core';
import { compilePolicy } from '@concord/core/policy';
import type { CompiledPolicy, SpecRegistry } from '@concord/core/policy';
import type { StrategyRegistry } from '@concord/core/strategy';
import { storageProblem } from './storable.js';
import { resolverErrors } from './errors.js';

/**
 * A reopen: who and why, and how to decide again — back into review (no policy), or at once by the
 * policy in force (`"current"`) or by a policy given inline (a JSON policy document, DESIGN §6).
 */
export interface ReopenInput {
  readonly userId: string;
  readonly reason: string;
  readonly policy: { readonly kind: 'review' } | { readonly kind: 'current' } | InlinePolicy;
}

interface InlinePolicy {
  readonly kind: 'inline';
  readonly policy: CompiledPolicy;
}

interface Problem {
  readonly path: string;
  readonly message: string;
}

const MAX_USER_ID = 200;
const MAX_REASON = 2000;

const invalid = (problems: readonly Problem[]): ConcordError =>
  new ConcordError(
    resolverErrors.REOPEN_INVALID,
    `invalid reopen: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { details: { problems } },
  );

const text = (value: unknown, max: number): boolean =>
  typeof value === 'string' && value.trim() !== '' && value.length <= max;

/**
 * Validates a reopen body, reporting every problem (`CONCORD_REOPEN_INVALID`): unknown keys, a missing
 * `userId` or `reason`, a `policy` that is neither `"current"` nor a valid policy document (each of its
 * problems with its path under `policy`), text Postgres cannot store.
 */
export const parseReopen = (
  body: unknown,
  options: { readonly registry?: StrategyRegistry; readonly specs?: SpecRegistry } = {},
): ReopenInput => {
  if (!isPlainObject(body)) throw invalid([{ path: '', message: 'must be a JSON object' }]);
  const problems: Problem[] = [];
  for (const key of Object.keys(body)) {
    if (!['reason', 'userId', 'policy'].includes(key)) problems.push({ path: key, message: 'unknown key' });
  }
  const { reason, userId, policy } = body;
  if (!text(userId, MAX_USER_ID)) {
    problems.push({
      path: 'userId',
      message: `is required: a non-empty string of at most ${MAX_USER_ID} characters`,
    });
  }
  if (!text(reason, MAX_REASON)) {
    problems.push({
      path: 'reason',
      message: `is required: a non-empty string of at most ${MAX_REASON} characters`,
    });
  }
  const unstorable = storageProblem(body);
  if (unstorable !== undefined) problems.push(unstorable);
  let chosen: ReopenInput['policy'] | undefined;
  if (policy === undefined) chosen = { kind: 'review' };
  else if (policy === 'current') chosen = { kind: 'current' };
  else if (!isPlainObject(policy)) {
    problems.push({ path: 'policy', message: 'must be "current" or a policy document' });
  } else if (unstorable === undefined) {
    const compiled = compilePolicy(policy, {
      ...(options.registry === undefined ? {} : { registry: options.registry }),
      ...(options.specs === undefined ? {} : { specs: options.specs }),
    });
    if (compiled.ok) chosen = { kind: 'inline', policy: compiled.policy };
    else {
      for (const p of compiled.problems) {
        problems.push({ path: p.path === '' ? 'policy' : `policy.${p.path}`, message: p.message });
      }
    }
  }
  if (problems.length > 0 || chosen === undefined) throw invalid(problems);
  return { userId: userId as string, reason: reason as string, policy: chosen };
};
