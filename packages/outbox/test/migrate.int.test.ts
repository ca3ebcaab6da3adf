import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseMigrations, findMigrationSources, loadMigrationSet, migrate } from '../src/index.js';
import type { MigrationSource } from '../src/index.js';
import { createPgliteTestDatabase, createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';

const run = promisify(execFile);

describe('migrations on Postgres', () => {
  let t: TestDatabase;
  let sets: MigrationSource[];
  let scratch: string;
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false });
    sets = await findMigrationSources(new URL('.', import.meta.url).pathname);
    scratch = await mkdtemp(join(tmpdir(), 'concord-migrate-'));
  });
  afterAll(async () => {
    await t.close();
    await rm(scratch, { recursive: true, force: true });
  });

  /** A copy of `source`'s folder to edit, under another owner name. */
  const copyOf = async (source: MigrationSource, owner: string): Promise<MigrationSource> => {
    const dir = join(scratch, owner);
    await cp(source.dir, dir, { recursive: true });
    return { owner, dir };
  };

  it('applies every migration and function once, concurrently started runners included', async () => {
    const results = await Promise.all([1, 2, 3].map(() => migrate({ db: t.db, schema: 'concord', sets })));
    const loaded = await Promise.all(sets.map(loadMigrationSet));
    const migrations = loaded.flatMap((set) => set.migrations);
    const functions = loaded.flatMap((set) => set.functions.map((fn) => `${set.owner}/${fn.name}`));
    expect(results.flatMap((r) => r.applied)).toHaveLength(migrations.length);
    expect(results.flatMap((r) => r.functions).sort()).toEqual(functions.sort());
    const again = await migrate({ db: t.db, schema: 'concord', sets });
    expect([again.applied, again.functions]).toEqual([[], []]);
    expect(again.alreadyApplied).toHaveLength(migrations.length);
    const { rows } = await t.db.query<{ owner: string; n: number }>(
      'SELECT owner, count(*)::int AS n FROM concord.schema_versions GROUP BY owner ORDER BY owner',
    );
    expect(rows.map((row) => row.owner)).toEqual(sets.map((set) => set.owner).sort());
  });

  it('applies an owner set by set: a service adds its own to the base sets later', async () => {
    const base = await migrate({ db: t.db, schema: 'by_owner', sets: baseMigrations });
    expect(base.applied).toEqual(expect.arrayContaining(['outbox/0001_baseline', 'store/0001_baseline']));
    expect(base.applied.filter((id) => !/^(outbox|store)\//.test(id))).toEqual([]);
    const resolver = sets.find((set) => set.owner === 'resolver');
    if (resolver === undefined) throw new Error('no resolver set found');
    const more = await migrate({ db: t.db, schema: 'by_owner', sets: [...baseMigrations, resolver] });
    expect(more.applied[0]).toBe('resolver/0001_baseline');
    expect(more.applied.filter((id) => !id.startsWith('resolver/'))).toEqual([]);
    await expect(t.db.query('SELECT 1 FROM by_owner.conflicts')).resolves.toBeDefined();
    await expect(t.db.query('SELECT 1 FROM by_owner.projections')).rejects.toThrow();
  });

  it('keeps schemas apart and refuses a migration whose file changed', async () => {
    const outbox = await copyOf(baseMigrations[0] as MigrationSource, 'edited');
    await migrate({ db: t.db, schema: 'other', sets: [outbox] });
    await writeFile(join(outbox.dir, '0001_baseline.sql'), '-- edited\n', { flag: 'a' });
    await expect(migrate({ db: t.db, schema: 'other', sets: [outbox] })).rejects.toMatchObject({
      code: 'CONCORD_MIGRATION_CHECKSUM_MISMATCH',
    });
  });

  it('applies a function file again when it changed, and only then', async () => {
    const outbox = await copyOf(baseMigrations[0] as MigrationSource, 'functions');
    await migrate({ db: t.db, schema: 'fns', sets: [outbox] });
    const file = join(outbox.dir, 'functions', 'outbox_backlog.sql');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('SELECT count(*)::int,', 'SELECT count(*)::int + 0,'));
    const changed = await migrate({ db: t.db, schema: 'fns', sets: [outbox] });
    expect([changed.applied, changed.functions]).toEqual([[], ['functions/outbox_backlog']]);
    const { rows } = await t.db.query<{ def: string }>(
      `SELECT pg_get_functiondef('fns.outbox_backlog'::regproc) AS def`,
    );
    expect(rows[0]?.def).toContain('count(*)::int + 0');
    const again = await migrate({ db: t.db, schema: 'fns', sets: [outbox] });
    expect(again.functions).toEqual([]);
  });

  it('rolls back a failing migration entirely', async () => {
    const dir = join(scratch, 'bad');
    await cp((baseMigrations[0] as MigrationSource).dir, dir, { recursive: true });
    await writeFile(join(dir, '0099_bad.sql'), 'CREATE TABLE ok (id int); SELECT nope;');
    await expect(
      migrate({ db: t.db, schema: 'broken', sets: [{ owner: 'bad', dir }] }),
    ).rejects.toMatchObject({
      code: 'CONCORD_MIGRATION_FAILED',
    });
    const { rows } = await t.db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'broken'`);
    expect(rows).toHaveLength(0);
  });

  it('runs from the concord-migrate CLI with DATABASE_URL', async () => {
    const cli = new URL('../src/cli.ts', import.meta.url).pathname;
    const env = { ...process.env, DATABASE_URL: t.url };
    const node = (args: string[], extra: Record<string, string | undefined> = {}) =>
      run(process.execPath, ['--conditions=source', '--import', 'tsx', cli, ...args], {
        env: { ...env, ...extra },
      });
    const { stdout } = await node(['--', '--schema', 'cli']);
    // From the workspace: every owner's set.
    expect(JSON.parse(stdout)).toMatchObject({ schema: 'cli', owners: sets.map((set) => set.owner) });
    const { stdout: second } = await node(['--schema', 'cli']);
    expect(JSON.parse(second)).toMatchObject({ applied: [], functions: [] });
    // Without --schema: DATABASE_SCHEMA, the variable the services read; --owner picks sets.
    const { stdout: fromEnv } = await node(['--owner', 'outbox', '--owner', 'resolver'], {
      DATABASE_SCHEMA: 'cli_env',
    });
    expect(JSON.parse(fromEnv)).toMatchObject({
      schema: 'cli_env',
      owners: ['outbox', 'resolver'],
    });
    expect(JSON.parse(fromEnv).applied).toEqual(
      expect.arrayContaining(['outbox/0001_baseline', 'resolver/0001_baseline']),
    );
    // Outside the workspace (--from elsewhere): the outbox package's own sets.
    const { stdout: alone } = await node(['--schema', 'cli_alone', '--from', scratch]);
    expect(JSON.parse(alone)).toMatchObject({ owners: ['outbox', 'store'] });
    const { stderr: unknown } = await node(['--owner', 'nobody']).catch((error: { stderr: string }) => error);
    expect(unknown).toContain('no migrations of nobody found');
    const { stderr } = await node([], { DATABASE_URL: '' }).catch((error: { stderr: string }) => error);
    expect(stderr).toContain('DATABASE_URL is required');
  });
});

describe('migrations on PGlite', () => {
  it('applies the same SQL and is idempotent', async () => {
    const t = await createPgliteTestDatabase();
    try {
      const sets = await findMigrationSources(new URL('.', import.meta.url).pathname);
      const again = await migrate({ db: t.db, sets });
      expect([again.applied, again.functions]).toEqual([[], []]);
      const { rows } = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM concord.outbox_leases',
      );
      expect(rows[0]?.n).toBe(16);
      const { rows: triggers } = await t.db.query<{ tgname: string }>(
        `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname`,
      );
      expect(triggers.map((row) => row.tgname)).toEqual(['notifier_log_notify', 'outbox_notify']);
    } finally {
      await t.close();
    }
  });
});
