export { allInOneEnvSchema, loadAllInOneConfig } from './config.js';
export type { AllInOneConfig } from './config.js';
