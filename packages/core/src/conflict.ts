/** The conflict model (DESIGN §3): classification, aggregate state, applying changes. */
export type {
  AggregateState,
  Classification,
  Conflict,
  FieldVersion,
  LocalFieldChange,
  WriteProvenance,
} from './conflict/types.js';
export { classify, toConflict } from './conflict/classify.js';
export { EMPTY_AGGREGATE, applyChanges, applyPatch, changeSetOf, writeOf } from './conflict/apply.js';
export type { FieldChangeSet } from './conflict/apply.js';
