#!/usr/bin/env node
/**
 * `concord-migrate`: applies Concord's SQL migrations to DATABASE_URL.
 *   DATABASE_URL=postgres://… concord-migrate [--schema concord] [--owner resolver …] [--from dir]
 * Without --schema, the schema is DATABASE_SCHEMA (the services' variable), else `concord`. The sets are
 * those found from --from (default: the working directory; see findMigrationSources): the outbox's and
 * the event store's, and each service package's found there. With --owner (repeatable), only the named
 * owners' sets. Exit code 0 when the schema is current, 1 on failure.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pgDatabase } from './db/pg.js';
import { DEFAULT_SCHEMA } from './db/ident.js';
import { findMigrationSources } from './migrate/discover.js';
import { migrate } from './migrate/runner.js';

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      schema: { type: 'string', default: process.env.DATABASE_SCHEMA || DEFAULT_SCHEMA },
      owner: { type: 'string', multiple: true },
      from: { type: 'string', default: process.cwd() },
    },
  });
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    process.stderr.write('concord-migrate: DATABASE_URL is required\n');
    return 1;
  }
  const found = await findMigrationSources(values.from);
  const unknown = (values.owner ?? []).filter((owner) => !found.some((set) => set.owner === owner));
  if (unknown.length > 0) {
    const known = found.map((set) => set.owner).join(', ');
    process.stderr.write(`concord-migrate: no migrations of ${unknown.join(', ')} found (found: ${known})\n`);
    return 1;
  }
  const sets = values.owner === undefined ? found : found.filter((set) => values.owner?.includes(set.owner));
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const db = pgDatabase({ pool, ownsPool: true });
  try {
    const result = await migrate({ db, schema: values.schema, sets });
    const { applied, adopted, functions } = result;
    const current = result.alreadyApplied.length + applied.length + adopted.length;
    const owners = sets.map((set) => set.owner);
    process.stdout.write(
      `${JSON.stringify({ schema: values.schema, owners, applied, adopted, functions, current })}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`concord-migrate: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof Error && error.cause !== undefined) {
      process.stderr.write(`  cause: ${String((error.cause as Error).message ?? error.cause)}\n`);
    }
    return 1;
  } finally {
    await db.close();
  }
};

process.exitCode = await main();
