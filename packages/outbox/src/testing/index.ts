export { createPgliteTestDatabase, createTestDatabase } from './database.js';
export type { TestDatabase } from './database.js';
export { faultyBus } from './faulty-bus.js';
