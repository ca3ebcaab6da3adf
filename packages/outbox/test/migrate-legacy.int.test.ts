import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findMigrationSources, migrate, quoteSchema } from '../src/index.js';
import type { MigrationSource } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { readCatalog } from './support/catalog.js';

const LEGACY = new URL('./fixtures/legacy-migrations/', import.meta.url);

/**
 * The runner of before the split by owner, as it was: one chain of files in version order, each run with
 * the schema first on the search path and recorded in `schema_migrations`. `upto` stops after that
 * version.
 */
const applyLegacyChain = async (t: TestDatabase, schema: string, upto = '9999'): Promise<void> => {
  const quoted = quoteSchema(schema);
  const files = (await readdir(LEGACY)).filter((file) => file.endsWith('.sql')).sort();
  await t.db.withTransaction(async (tx) => {
    await tx.exec(
      `CREATE SCHEMA ${quoted};
       CREATE TABLE ${quoted}.schema_migrations (version text PRIMARY KEY, name text NOT NULL,
         checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    for (const file of files) {
      const [version = '', name = ''] = [file.slice(0, 4), file.slice(5, -4)];
      if (version > upto) break;
      const sql = await readFile(new URL(file, LEGACY), 'utf8');
      await tx.exec(`SET LOCAL search_path TO ${quoted}, public;\n${sql}`);
      await tx.query(
        `INSERT INTO ${quoted}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
        [version, name, createHash('sha256').update(sql).digest('hex')],
      );
    }
    await tx.exec('SET LOCAL search_path TO DEFAULT');
  });
};

const seedRows = async (t: TestDatabase, schema: string): Promise<unknown> => {
  const { rows: leases } = await t.db.query(`SELECT * FROM ${schema}.outbox_leases ORDER BY key_partition`);
  const { rows: pruned } = await t.db.query(`SELECT * FROM ${schema}.notifier_log_pruned`);
  return { leases, pruned };
};

describe('the sets by owner against the chain they replace', () => {
  let t: TestDatabase;
  let sets: MigrationSource[];
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false });
    sets = await findMigrationSources(new URL('.', import.meta.url).pathname);
  });
  afterAll(() => t.close());

  it('finds every owner of tables in the workspace', () => {
    expect(sets.map((set) => set.owner)).toEqual(['outbox', 'store', 'notifier', 'projector', 'resolver']);
  });

  it('ships every set with its package (pnpm deploy copies what package.json `files` lists)', async () => {
    for (const set of sets) {
      const pkg = join(set.dir, set.owner === 'outbox' || set.owner === 'store' ? '../..' : '..');
      const { files } = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { files: string[] };
      expect({ owner: set.owner, files }).toEqual({
        owner: set.owner,
        files: expect.arrayContaining(['migrations']),
      });
    }
  });

  it('ends a schema migrated by the chain with the schema a fresh one gets, and adopts its baselines', async () => {
    await applyLegacyChain(t, 'cmp_chain');
    const chainAlone = await readCatalog(t.db, 'cmp_chain');
    const upgraded = await migrate({ db: t.db, schema: 'cmp_chain', sets });
    const baselines = sets.map((set) => `${set.owner}/0001_baseline`);
    expect(upgraded.adopted).toEqual(baselines);
    const fresh = await migrate({ db: t.db, schema: 'cmp_sets', sets });
    expect(fresh.adopted).toEqual([]);
    // Migrations written after the split run on both.
    expect(upgraded.applied).toEqual(fresh.applied.filter((id) => !baselines.includes(id)));
    expect(fresh.functions).toEqual(upgraded.functions);

    const chain = await readCatalog(t.db, 'cmp_chain');
    const created = await readCatalog(t.db, 'cmp_sets');
    for (const part of Object.keys(created))
      expect({ [part]: chain[part] }).toEqual({ [part]: created[part] });
    // The chain's eight functions and outbox_function_settings (outbox migration 0003), which gives
    // five of them their planner settings.
    expect(chain.functions).toHaveLength(9);
    expect((chain.functions ?? []).filter((def) => def.includes("SET jit TO 'off'"))).toHaveLength(5);
    expect(await seedRows(t, 'cmp_chain')).toEqual(await seedRows(t, 'cmp_sets'));

    // What the upgrade changed: the chain left a superseded overload of the read horizon behind.
    const dropped = chainAlone.functions?.filter((fn) => !created.functions?.includes(fn)) ?? [];
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toContain('FUNCTION <schema>.outbox_read_horizon(OUT horizon_tx xid8');

    const again = await migrate({ db: t.db, schema: 'cmp_chain', sets });
    expect([again.applied, again.adopted, again.functions]).toEqual([[], [], []]);
  });

  it('tells an index or a function body that differs', async () => {
    await migrate({ db: t.db, schema: 'cmp_changed', sets });
    const before = await readCatalog(t.db, 'cmp_changed');
    await t.db.exec(
      `DROP INDEX cmp_changed.conflicts_by_time;
       CREATE INDEX conflicts_by_time ON cmp_changed.conflicts (conflict_id, created_at);`,
    );
    const indexChanged = await readCatalog(t.db, 'cmp_changed');
    expect(indexChanged.indexes).not.toEqual(before.indexes);
    expect({ ...indexChanged, indexes: [] }).toEqual({ ...before, indexes: [] });
    const { rows } = await t.db.query<{ def: string }>(
      `SELECT pg_get_functiondef('cmp_changed.outbox_backlog'::regproc) AS def`,
    );
    await t.db.exec((rows[0]?.def ?? '').replace('count(*)::int', 'count(*)::int + 0'));
    const bodyChanged = await readCatalog(t.db, 'cmp_changed');
    expect(bodyChanged.functions).not.toEqual(indexChanged.functions);
  });

  it('refuses a schema where the chain stopped short', async () => {
    await applyLegacyChain(t, 'cmp_short', '0010');
    await expect(migrate({ db: t.db, schema: 'cmp_short', sets })).rejects.toMatchObject({
      code: 'CONCORD_MIGRATION_FAILED',
      message: expect.stringContaining('0011_outbox_relay_read_unblocked') as unknown,
    });
  });
});
