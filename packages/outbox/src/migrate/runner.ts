import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import type { Database } from '../db/types.js';
import { outboxError } from '../errors.js';
import { loadMigrations } from './files.js';
import type { Migration } from './files.js';

export interface MigrateOptions {
  readonly db: Database;
  /** Postgres schema that holds Concord's tables. Default `concord`. */
  readonly schema?: string;
  /** Migrations to apply; default: the package's own `migrations/` folder. */
  readonly migrations?: readonly Migration[];
  readonly logger?: Logger;
}

export interface MigrateResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so concurrent starts of
 * several services wait for each other and the second finds nothing to do. Applied migrations are
 * recorded in `<schema>.schema_migrations` with their checksum; a changed file fails the run.
 */
export const migrate = async (options: MigrateOptions): Promise<MigrateResult> => {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const quoted = quoteSchema(schema);
  const logger = options.logger ?? silentLogger;
  const migrations = options.migrations ?? (await loadMigrations());
  return options.db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`concord.migrate.${schema}`]);
    await tx.exec(
      `CREATE SCHEMA IF NOT EXISTS ${quoted};
       CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
         version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await tx.query<{ version: string; checksum: string }>(
      `SELECT version, checksum FROM ${quoted}.schema_migrations`,
    );
    const known = new Map(rows.map((row) => [row.version, row.checksum]));
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of migrations) {
      const id = `${migration.version}_${migration.name}`;
      const checksum = known.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw outboxError(
            'CONCORD_MIGRATION_CHECKSUM_MISMATCH',
            `Migration ${id} changed after it was applied to schema ${schema}`,
            { details: { version: migration.version, applied: checksum, file: migration.checksum } },
          );
        }
        alreadyApplied.push(id);
        continue;
      }
      try {
        await tx.exec(`SET LOCAL search_path TO ${quoted}, public;\n${migration.sql}`);
      } catch (error) {
        throw outboxError('CONCORD_MIGRATION_FAILED', `Migration ${id} failed`, { cause: error });
      }
      await tx.query(
        `INSERT INTO ${quoted}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
        [migration.version, migration.name, migration.checksum],
      );
      applied.push(id);
      logger.info({ migration: id, schema }, 'migration applied');
    }
    await tx.exec('SET LOCAL search_path TO DEFAULT');
    return { applied, alreadyApplied };
  });
};
