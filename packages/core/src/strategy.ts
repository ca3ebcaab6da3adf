/** Strategies (DESIGN §6): what a strategy is, the registry, the order of writes. */
export type {
  FieldChoice,
  FieldSource,
  Strategy,
  StrategyDefinition,
  StrategyResult,
} from './strategy/types.js';
/** @public Named by the decision types (a decision's `outcome` and `review`). */
export type { ResolutionDecision, ReviewInfo } from './strategy/types.js';
export { StrategyRegistry, createStrategyRegistry } from './strategy/registry.js';
export type { StrategyProblem } from './strategy/registry.js';
export { orderWrites } from './strategy/sides.js';
