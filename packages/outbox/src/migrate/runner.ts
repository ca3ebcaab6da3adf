import { ConcordError, silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Database, Tx } from '../db/types.js';
import { outboxErrors } from '../errors.js';
import { baseMigrations, loadMigrationSet } from './files.js';
import type { MigrationSet, MigrationSource } from './files.js';
import { adoptsFromLegacy, readLegacyChain } from './legacy.js';
import type { LegacyChain } from './legacy.js';

export interface MigrateOptions {
  readonly db: Database;
  /** Postgres schema that holds Concord's tables. Default `concord`. */
  readonly schema?: string;
  /**
   * The owners' sets, applied in this order (an owner's migrations may use the tables of the owners
   * before it). Default: the outbox's and the event store's (`baseMigrations`); a service adds its own.
   */
  readonly sets?: readonly MigrationSource[];
  readonly logger?: Logger;
}

export interface MigrateResult {
  /** Migrations run now, as `owner/NNNN_name`. */
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
  /** Baselines recorded without running them: the schema was migrated by the chain before the split. */
  readonly adopted: readonly string[];
  /** Function files applied now (new or changed), as `owner/name`. */
  readonly functions: readonly string[];
}

interface Run {
  readonly tx: Tx;
  readonly schema: string;
  readonly quoted: string;
  readonly logger: Logger;
}

const exec = async (run: Run, what: string, sql: string): Promise<void> => {
  try {
    await run.tx.exec(`SET LOCAL search_path TO ${run.quoted}, public;\n${sql}`);
  } catch (error) {
    throw new ConcordError(outboxErrors.MIGRATION_FAILED, `${what} failed`, { cause: error });
  }
};

const migrateSet = async (
  run: Run,
  set: MigrationSet,
  legacy: LegacyChain,
): Promise<Pick<MigrateResult, 'applied' | 'alreadyApplied' | 'adopted'>> => {
  const { tx, quoted, schema } = run;
  const { rows } = await tx.query<{ version: string; checksum: string }>(
    `SELECT version, checksum FROM ${quoted}.schema_versions WHERE owner = $1`,
    [set.owner],
  );
  const known = new Map(rows.map((row) => [row.version, row.checksum]));
  const result = { applied: [] as string[], alreadyApplied: [] as string[], adopted: [] as string[] };
  for (const migration of set.migrations) {
    const id = `${set.owner}/${migration.version}_${migration.name}`;
    const checksum = known.get(migration.version);
    if (checksum !== undefined) {
      if (checksum !== migration.checksum) {
        throw new ConcordError(
          outboxErrors.MIGRATION_CHECKSUM_MISMATCH,
          `Migration ${id} changed after it was applied to schema ${schema}`,
          { details: { version: migration.version, applied: checksum, file: migration.checksum } },
        );
      }
      result.alreadyApplied.push(id);
      continue;
    }
    const adopted = adoptsFromLegacy(legacy, set.owner, migration.version);
    if (!adopted) await exec(run, `Migration ${id}`, migration.sql);
    await tx.query(
      `INSERT INTO ${quoted}.schema_versions (owner, version, name, checksum) VALUES ($1, $2, $3, $4)`,
      [set.owner, migration.version, migration.name, migration.checksum],
    );
    (adopted ? result.adopted : result.applied).push(id);
    run.logger.info({ migration: id, schema }, adopted ? 'migration adopted' : 'migration applied');
  }
  return result;
};

/** Applies the set's function files that are new or changed since they were last applied. */
const applyFunctions = async (run: Run, set: MigrationSet): Promise<string[]> => {
  const { tx, quoted } = run;
  const { rows } = await tx.query<{ name: string; checksum: string }>(
    `SELECT name, checksum FROM ${quoted}.schema_functions WHERE owner = $1`,
    [set.owner],
  );
  const known = new Map(rows.map((row) => [row.name, row.checksum]));
  const applied: string[] = [];
  for (const fn of set.functions) {
    if (known.get(fn.name) === fn.checksum) continue;
    const id = `${set.owner}/${fn.name}`;
    await exec(run, `Function ${id}`, fn.sql);
    await tx.query(
      `INSERT INTO ${quoted}.schema_functions (owner, name, checksum) VALUES ($1, $2, $3)
       ON CONFLICT (owner, name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
      [set.owner, fn.name, fn.checksum],
    );
    applied.push(id);
    run.logger.info({ function: id, schema: run.schema }, 'function applied');
  }
  return applied;
};

/**
 * Applies the owners' pending migrations, set after set, then every function file that is new or
 * changed, all in one transaction under an advisory lock, so concurrent starts of several services wait
 * for each other and the second finds nothing to do. Migrations are recorded in
 * `<schema>.schema_versions` (owner, version, checksum; a changed file fails the run), functions in
 * `<schema>.schema_functions` (owner, name, checksum). Functions come after every set's migrations, so a
 * function may use any owner's tables; a migration must not rely on a function's current text.
 */
export const migrate = async (options: MigrateOptions): Promise<MigrateResult> => {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const quoted = quoteSchema(schema);
  const sources = options.sets ?? baseMigrations;
  const owners = sources.map((source) => source.owner);
  const twice = owners.find((owner, i) => owners.indexOf(owner) !== i);
  if (twice !== undefined) {
    throw new ConcordError(outboxErrors.MIGRATION_FILES, `Migration set ${twice} is given twice`);
  }
  const sets = await Promise.all(sources.map(loadMigrationSet));
  return options.db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`concord.migrate.${schema}`]);
    await tx.exec(
      `CREATE SCHEMA IF NOT EXISTS ${quoted};
       CREATE TABLE IF NOT EXISTS ${quoted}.schema_versions (
         owner text NOT NULL, version text NOT NULL, name text NOT NULL, checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, version));
       CREATE TABLE IF NOT EXISTS ${quoted}.schema_functions (
         owner text NOT NULL, name text NOT NULL, checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, name))`,
    );
    const run: Run = { tx, schema, quoted, logger: options.logger ?? silentLogger };
    const legacy = await readLegacyChain(tx, schema, quoted);
    const result = { applied: [] as string[], alreadyApplied: [] as string[], adopted: [] as string[] };
    for (const set of sets) {
      const done = await migrateSet(run, set, legacy);
      result.applied.push(...done.applied);
      result.alreadyApplied.push(...done.alreadyApplied);
      result.adopted.push(...done.adopted);
    }
    const functions: string[] = [];
    for (const set of sets) functions.push(...(await applyFunctions(run, set)));
    await tx.exec('SET LOCAL search_path TO DEFAULT');
    return { ...result, functions };
  });
};
