import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { pgDatabase } from '../db/pg.js';
import { pgliteDatabase } from '../db/pglite.js';
import type { Database } from '../db/types.js';
import { findMigrationSources } from '../migrate/discover.js';
import type { MigrationSource } from '../migrate/files.js';
import { migrate } from '../migrate/runner.js';

/** A migrated, throw-away database for one test file. */
export interface TestDatabase {
  readonly db: Database;
  /** Connection string of the database (pg only). */
  readonly url: string | undefined;
  readonly name: string;
  readonly schema: string;
  /** Drops the database (pg) or closes the instance (PGlite). Idempotent. */
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Admin URL of the Postgres server (`inject('DATABASE_URL')`). */
  readonly adminUrl: string;
  readonly schema?: string;
  /** Pool size. Default 10. */
  readonly max?: number;
  /** Apply migrations. Default true. */
  readonly migrate?: boolean;
  /**
   * The migration sets to apply, in order. Default: every set found from this package (in the workspace:
   * the outbox's, the event store's and each service's). A service's tests pass `baseMigrations` and
   * its own, so they run on the tables that service creates and no others.
   */
  readonly sets?: readonly MigrationSource[];
}

/** The sets a test database gets by default: every owner's the workspace holds. */
const everySet = (): Promise<MigrationSource[]> =>
  findMigrationSources(fileURLToPath(new URL('.', import.meta.url)));

const withDatabase = (adminUrl: string, name: string): string => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

const admin = async <T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
};

/** Creates a uniquely named database on the server, migrates it, and drops it on close(). */
export const createTestDatabase = async (options: TestDatabaseOptions): Promise<TestDatabase> => {
  const name = `concord_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const schema = options.schema ?? 'concord';
  await admin(options.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(options.adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  const db = pgDatabase({ pool, ownsPool: true });
  if (options.migrate !== false) {
    await migrate({ db, schema, sets: options.sets ?? (await everySet()) });
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    url,
    name,
    schema,
    close() {
      closing ??= (async () => {
        await db.close();
        await admin(options.adminUrl, (client) =>
          client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
        );
      })();
      return closing;
    },
  };
};

/** An in-memory PGlite database, migrated (`sets` as for {@link createTestDatabase}). */
export const createPgliteTestDatabase = async (
  options: { readonly schema?: string; readonly sets?: readonly MigrationSource[] } = {},
): Promise<TestDatabase> => {
  const schema = options.schema ?? 'concord';
  const db = pgliteDatabase({ pglite: new PGlite(), ownsInstance: true });
  await migrate({ db, schema, sets: options.sets ?? (await everySet()) });
  return { db, url: undefined, name: 'pglite', schema, close: () => db.close() };
};
