export { describeBusContract, describeBusRestartContract } from './contract.js';
export type { BusContractContext, BusContractOptions } from './context.js';
export { collector, gate, message, publishAll, readText, text, uniqueSuffix } from './helpers.js';
export { delay, unique, waitFor } from './wait.js';
export { createMemoryTracing, traceparentOf } from './tracing.js';
export type { MemoryTracing } from './tracing.js';
