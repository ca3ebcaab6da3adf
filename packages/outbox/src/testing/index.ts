export { createPgliteTestDatabase, createTestDatabase } from './database.js';
export type { TestDatabase, TestDatabaseOptions } from './database.js';
export { faultyBus } from './faulty-bus.js';
export type { FaultyBusOptions } from './faulty-bus.js';
