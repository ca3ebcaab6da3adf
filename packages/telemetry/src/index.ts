export { startTelemetry } from './sdk.js';
export type { Telemetry, TelemetryOptions } from './sdk.js';
export { tracingEnabled } from './settings.js';
export type { TelemetryEnv } from './settings.js';
export { KeepExistingContextPropagator } from './propagator.js';
export { concordInstrumentations, INSTRUMENTED_MODULES } from './instrumentations.js';
