import { ConcordError } from '@concord/core';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outboxErrors } from '../errors.js';

/**
 * Where one owner of tables keeps its SQL: `<dir>/NNNN_name.sql` migrations, applied once each in version
 * order, and `<dir>/functions/<name>.sql`, one SQL function each (its current text, `CREATE OR REPLACE`),
 * applied again whenever the file changes.
 */
export interface MigrationSource {
  /** The owner of the tables (`outbox`, `store`, `resolver`, …); versions are per owner. */
  readonly owner: string;
  readonly dir: string;
}

/** One SQL migration file: `NNNN_name.sql`, applied in version order. */
export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  /** sha256 of the file's text; an applied migration whose file changed fails the run. */
  readonly checksum: string;
}

/** One SQL function file (`functions/<name>.sql`): re-applied after the migrations when its text changed. */
export interface SqlFunction {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** An owner's migrations and functions, read from its folder. */
export interface MigrationSet {
  readonly owner: string;
  readonly migrations: readonly Migration[];
  readonly functions: readonly SqlFunction[];
}

const folder = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** The outbox's tables: outbox, relay leases and watermarks, dead letters, inbox (shipped beside dist). */
export const outboxMigrations: MigrationSource = { owner: 'outbox', dir: folder('../../migrations/outbox/') };

/** The event store's tables: aggregates and events (src/store). */
export const storeMigrations: MigrationSource = { owner: 'store', dir: folder('../../migrations/store/') };

/** What every service applies before its own set: the outbox's and the event store's. */
export const baseMigrations: readonly MigrationSource[] = [outboxMigrations, storeMigrations];

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const FUNCTION_FILE = /^([a-z0-9_]+)\.sql$/;

const checksum = (sql: string): string => createHash('sha256').update(sql).digest('hex');

const sqlFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.sql'))
    .map((entry) => entry.name)
    .sort();
};

const filesError = (source: MigrationSource, message: string) =>
  new ConcordError(outboxErrors.MIGRATION_FILES, `${source.owner} (${source.dir}): ${message}`);

/** Reads and orders an owner's migrations and functions. A `.sql` file named otherwise is an error. */
export const loadMigrationSet = async (source: MigrationSource): Promise<MigrationSet> => {
  const migrations: Migration[] = [];
  for (const file of await sqlFiles(source.dir)) {
    const match = MIGRATION_FILE.exec(file);
    if (match === null) throw filesError(source, `migration file ${file} is not named NNNN_name.sql`);
    const version = match[1] ?? '';
    if (migrations.some((m) => m.version === version)) {
      throw filesError(source, `two migrations share version ${version}`);
    }
    const sql = await readFile(join(source.dir, file), 'utf8');
    migrations.push({ version, name: match[2] ?? '', sql, checksum: checksum(sql) });
  }
  if (migrations.length === 0) throw filesError(source, 'no migrations');
  const functions: SqlFunction[] = [];
  for (const file of await sqlFiles(join(source.dir, 'functions'))) {
    const match = FUNCTION_FILE.exec(file);
    if (match === null) throw filesError(source, `function file ${file} is not named name.sql`);
    const sql = await readFile(join(source.dir, 'functions', file), 'utf8');
    functions.push({ name: match[1] ?? '', sql, checksum: checksum(sql) });
  }
  return { owner: source.owner, migrations, functions };
};
