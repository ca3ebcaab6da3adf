import type { MessageBus } from '@concord/bus';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { createRelay } from '../../src/index.js';
import type { Database, Relay, RelayOptions } from '../../src/index.js';
import { createTestDatabase } from '../../src/testing/index.js';
import type { TestDatabase } from '../../src/testing/index.js';
import { consoleLogger } from './console-logger.js';

export interface RelayHarness {
  /** The file's database (available from `beforeAll` on). */
  readonly db: Database;
  /** Closes `x` after the test, before the outbox is emptied. */
  track<T extends { close(): Promise<void> }>(x: T): T;
  /** A started relay on the file's database with short leases and polls (`DEBUG_RELAY=1` logs). */
  relay(bus: MessageBus, options?: Partial<RelayOptions>): Relay;
}

/**
 * Registers the hooks of a relay test file: one database for the file; after each test, whatever the
 * test tracked is closed and the outbox and its dead letters are emptied.
 */
export const useRelayHarness = (): RelayHarness => {
  let t: TestDatabase | undefined;
  const open: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  });
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
    await t?.db.query('DELETE FROM concord.outbox');
    await t?.db.query('DELETE FROM concord.outbox_dead_letters');
  });
  afterAll(() => t?.close());
  const harness: RelayHarness = {
    get db() {
      if (t === undefined) throw new Error('the relay harness database is not ready (use it in a test)');
      return t.db;
    },
    track(x) {
      open.push(x);
      return x;
    },
    relay(bus, options = {}) {
      const r = harness.track(
        createRelay({
          db: harness.db,
          bus,
          leaseTtlMs: 1500,
          pollIntervalMs: 200,
          ...(process.env.DEBUG_RELAY ? { logger: consoleLogger() } : {}),
          ...options,
        }),
      );
      r.start();
      return r;
    },
  };
  return harness;
};
