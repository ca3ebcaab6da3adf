/** Decisions: ledger records and the changes a resolution makes. */
export { createDecisionRecord } from './decision/record.js';
export type { DecidedBy, DecisionRecord } from './decision/record.js';
export { creditedWrite, resolutionChanges } from './decision/patch.js';
