import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { outboxError } from '../errors.js';

/** One SQL migration file: `NNNN_name.sql`, applied in version order. */
export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  /** sha256 of the file's text; an applied migration whose file changed fails the run. */
  readonly checksum: string;
}

/** The folder of Concord's own migrations (packages/outbox/migrations, shipped beside dist). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads and orders the migrations of a folder. Any other `.sql` file name is an error. */
export const loadMigrations = async (dir: string = MIGRATIONS_DIR): Promise<Migration[]> => {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const match = FILE.exec(file);
    if (match === null) {
      throw outboxError('CONCORD_MIGRATION_FILES', `Migration file ${file} is not named NNNN_name.sql`);
    }
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    const version = match[1] ?? '';
    if (migrations.some((m) => m.version === version)) {
      throw outboxError('CONCORD_MIGRATION_FILES', `Two migrations share version ${version}`);
    }
    migrations.push({
      version,
      name: match[2] ?? '',
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
};
