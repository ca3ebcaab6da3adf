import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConcordError, coreErrors } from '../errors.js';
import {
  compileDocument,
  type CompilePolicyOptions,
  type CompiledPolicy,
  type PolicyResult,
} from './compile.js';
import { normalizeDocument } from './document.js';
import type { PolicyProblem } from './types.js';

/** Options for `loadPolicy`. */
export interface LoadPolicyOptions extends CompilePolicyOptions {
  /** `yaml` (default; JSON is valid YAML too) or `json` (strict JSON). */
  readonly format?: 'yaml' | 'json';
}

/**
 * Load a policy from YAML or JSON text (DESIGN §6; go-sync-kit rule files load unchanged), validate
 * everything and compile it. Returns the policy or EVERY problem with its path, e.g.
 * `rules[2].resolution.strategy: unknown strategy "lastwrite"`. Never throws.
 */
export const loadPolicy = (text: string, options: LoadPolicyOptions = {}): PolicyResult => {
  let parsed: unknown;
  try {
    parsed =
      options.format === 'json' ? (JSON.parse(text) as unknown) : parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    return {
      ok: false,
      problems: [{ path: '', message: `cannot parse policy${where}: ${(error as Error).message}` }],
    };
  }
  return compilePolicy(parsed, options);
};

/** Validate and compile an already-parsed policy object. */
export const compilePolicy = (input: unknown, options: CompilePolicyOptions = {}): PolicyResult => {
  const problems: PolicyProblem[] = [];
  const document = normalizeDocument(input, problems);
  const compiled = compileDocument(document, options);
  if (problems.length === 0) return compiled;
  return { ok: false, problems: compiled.ok ? problems : [...problems, ...compiled.problems] };
};

/** Format problems one per line as `path: message`. */
export const formatPolicyProblems = (problems: readonly PolicyProblem[]): string =>
  problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');

/** Like `loadPolicy`, but throws `CONCORD_POLICY_INVALID` (not retryable) listing every problem. */
export const loadPolicyOrThrow = (text: string, options: LoadPolicyOptions = {}): CompiledPolicy => {
  const result = loadPolicy(text, options);
  if (result.ok) return result.policy;
  throw new ConcordError(
    coreErrors.POLICY_INVALID,
    `invalid policy:\n${formatPolicyProblems(result.problems)}`,
    {
      details: { problems: result.problems },
    },
  );
};
