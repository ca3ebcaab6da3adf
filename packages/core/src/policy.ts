/** The policy engine and loader (DESIGN §6): compile, decide, explain, dry runs. */
export type {
  GroupDoc,
  PolicyDecision,
  PolicyDocument,
  PolicyProblem,
  ResolutionDoc,
} from './policy/types.js';
/** @public Named by the decision types above (a decision record's `via` and `skipped`). */
export type { DecisionVia, SkippedEntry } from './policy/types.js';
export { decide } from './policy/compile.js';
export type { CompiledPolicy, SpecFactory, SpecRegistry } from './policy/compile.js';
export { compilePolicy, formatPolicyProblems, loadPolicy, loadPolicyOrThrow } from './policy/loader.js';
export { createDryRun } from './policy/dry-run.js';
export type { DryRunReport } from './policy/dry-run.js';
