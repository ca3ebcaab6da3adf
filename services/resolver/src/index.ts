export { createResolverModule } from './module.js';
export type { ResolverModule, ResolverModuleDeps } from './module.js';
export { openPolicySource } from './policy/source.js';
export { extensionList, loadExtensions } from './extensions.js';
export type { ConcordExtension, Extensions } from './extensions.js';
export type {
  PolicyInfo,
  PolicySource,
  PolicySourceOptions,
  ReloadListener,
  ReloadResult,
} from './policy/source.js';
export { defaultPolicyPath } from './policy/default-path.js';
export { humanResult, parseHumanDecision } from './decision-input.js';
export type { FieldPick, HumanDecision } from './decision-input.js';
export { refreshConflict, settleChanges } from './conflict.js';
export { escalationStrategy } from './escalation.js';
export { CHANGE_ID_SUFFIXES, changeEventId } from './decision-writes.js';
export type { DecisionObservation, DecisionView, Resolver } from './types.js';
export { resolverEnvSchema, loadResolverConfig } from './config.js';
export type { ResolverConfig } from './config.js';
export { resolverMigrations } from './migrations.js';
