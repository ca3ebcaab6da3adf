export { describeBusContract, describeBusRestartContract } from './contract.js';
export type { BusContractContext, BusContractOptions } from './context.js';
export { collector, gate, message, publishAll, readText, text, uniqueSuffix, waitFor } from './helpers.js';
export { createMemoryTracing, traceparentOf } from './tracing.js';
export type { MemoryTracing } from './tracing.js';
