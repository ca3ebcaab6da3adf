export { startTelemetry } from './sdk.js';
