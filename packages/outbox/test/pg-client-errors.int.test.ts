import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgDatabase } from '../src/index.js';
import type { Database } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';

describe('pg clients whose connection dies', () => {
  let t: TestDatabase;
  let pool: pg.Pool;
  let db: Database;
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false });
    pool = new pg.Pool({ connectionString: t.url, max: 2 });
    db = pgDatabase({ pool, ownsPool: true });
  });
  afterAll(async () => {
    await db.close();
    await t.close();
  });

  it("never leave a client without an 'error' listener, so a dying connection cannot crash the process", async () => {
    await db.query('SELECT 1');
    // Checked out, between queries: the pool's own idle listener is off.
    const client = await pool.connect();
    try {
      expect(client.listenerCount('error')).toBeGreaterThan(0);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await t.db.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      // What pg does when the server ends the session between queries: emit 'error' on the client.
      expect(() =>
        client.emit('error', new Error('terminating connection due to administrator command')),
      ).not.toThrow();
    } finally {
      client.release(true);
    }
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
