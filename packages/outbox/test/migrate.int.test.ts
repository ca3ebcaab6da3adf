import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadMigrations, migrate } from '../src/index.js';
import { createPgliteTestDatabase, createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';

const run = promisify(execFile);

describe('migrations on Postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false });
  });
  afterAll(() => t.close());

  it('applies every migration once, concurrently started runners included', async () => {
    const results = await Promise.all([1, 2, 3].map(() => migrate({ db: t.db, schema: 'concord' })));
    const all = await loadMigrations();
    expect(results.flatMap((r) => r.applied)).toHaveLength(all.length);
    const again = await migrate({ db: t.db, schema: 'concord' });
    expect(again.applied).toEqual([]);
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM concord.schema_migrations',
    );
    expect(rows[0]?.n).toBe(all.length);
  });

  it('keeps schemas apart and refuses a migration whose file changed', async () => {
    const all = await loadMigrations();
    await migrate({ db: t.db, schema: 'other' });
    const changed = all.map((m, i) => (i === 0 ? { ...m, checksum: 'x', sql: `${m.sql}\n-- edited` } : m));
    await expect(migrate({ db: t.db, schema: 'other', migrations: changed })).rejects.toMatchObject({
      code: 'CONCORD_MIGRATION_CHECKSUM_MISMATCH',
    });
  });

  it('rolls back a failing migration entirely', async () => {
    const bad = [
      { version: '9999', name: 'bad', sql: 'CREATE TABLE ok (id int); SELECT nope;', checksum: 'b' },
    ];
    await expect(migrate({ db: t.db, schema: 'broken', migrations: bad })).rejects.toMatchObject({
      code: 'CONCORD_MIGRATION_FAILED',
    });
    const { rows } = await t.db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'broken'`);
    expect(rows).toHaveLength(0);
  });

  it('runs from the concord-migrate CLI with DATABASE_URL', async () => {
    const cli = new URL('../src/cli.ts', import.meta.url).pathname;
    const env = { ...process.env, DATABASE_URL: t.url };
    const { stdout } = await run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', cli, '--', '--schema', 'cli'],
      { env },
    );
    expect(JSON.parse(stdout)).toMatchObject({ schema: 'cli' });
    const { stdout: second } = await run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', cli, '--schema', 'cli'],
      {
        env,
      },
    );
    expect(JSON.parse(second)).toMatchObject({ applied: [] });
    // Without --schema: DATABASE_SCHEMA, the variable the services read.
    const { stdout: fromEnv } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', cli], {
      env: { ...env, DATABASE_SCHEMA: 'cli_env' },
    });
    expect(JSON.parse(fromEnv)).toMatchObject({ schema: 'cli_env' });
    const { stderr } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', cli], {
      env: { ...process.env, DATABASE_URL: '' },
    }).catch((error: { stderr: string }) => error);
    expect(stderr).toContain('DATABASE_URL is required');
  });
});

describe('migrations on PGlite', () => {
  it('applies the same SQL and is idempotent', async () => {
    const t = await createPgliteTestDatabase();
    try {
      const again = await migrate({ db: t.db });
      expect(again.applied).toEqual([]);
      const { rows } = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM concord.outbox_leases',
      );
      expect(rows[0]?.n).toBe(16);
    } finally {
      await t.close();
    }
  });
});
