#!/usr/bin/env node
/**
 * `concord-migrate`: applies Concord's SQL migrations to DATABASE_URL.
 *   DATABASE_URL=postgres://… concord-migrate [--schema concord]
 * Without --schema, the schema is DATABASE_SCHEMA (the services' variable), else `concord`.
 * Exit code 0 when the schema is current, 1 on failure.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pgDatabase } from './db/pg.js';
import { DEFAULT_SCHEMA } from './db/ident.js';
import { migrate } from './migrate/runner.js';

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: { schema: { type: 'string', default: process.env.DATABASE_SCHEMA || DEFAULT_SCHEMA } },
  });
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    process.stderr.write('concord-migrate: DATABASE_URL is required\n');
    return 1;
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const db = pgDatabase({ pool, ownsPool: true });
  try {
    const result = await migrate({ db, schema: values.schema });
    process.stdout.write(
      `${JSON.stringify({ schema: values.schema, applied: result.applied, current: result.alreadyApplied.length + result.applied.length })}\n`,
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
