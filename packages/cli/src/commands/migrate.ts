import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { listOption, stringOption } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { writeJson, writeLine } from '../io.js';

/** The schema of Concord's tables when neither --schema nor DATABASE_SCHEMA names one (as the services'). */
const DEFAULT_SCHEMA = 'concord';

/** Connection failures that mean the database is not there (exit 3), not that migrating failed. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);

const codeOf = (error: unknown): string | undefined => {
  for (let e: unknown = error; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE.has(code)) return code;
    if (e instanceof AggregateError) return e.errors.map(codeOf).find((c) => c !== undefined);
  }
  return undefined;
};

export const migrateCommand: Command = {
  path: ['migrate'],
  args: '',
  summary: "applies Concord's SQL migrations to a Postgres database (as concord-migrate)",
  details: [
    "The sets are those found from --from (the outbox's and the event store's, then each service's found",
    "there); with --owner, only the named owners'. Prints what was applied. Exit 3 when the database",
    'cannot be reached.',
  ],
  options: {
    'database-url': { type: 'string', value: 'url', description: 'postgres:// URL (env DATABASE_URL)' },
    schema: {
      type: 'string',
      value: 'name',
      description: `schema of Concord's tables (env DATABASE_SCHEMA; default ${DEFAULT_SCHEMA})`,
    },
    owner: { type: 'string', multiple: true, value: 'owner', description: "only this owner's set" },
    from: { type: 'string', value: 'dir', description: 'where to look for migration sets (default: .)' },
  },
  positionals: { min: 0, max: 0 },
  async run({ io, global, values }) {
    // Postgres and the migration runner load only for this command.
    const [{ findMigrationSources, migrate, pgDatabase }, { default: pg }] = await Promise.all([
      import('@concord/outbox'),
      import('pg'),
    ]);
    const url = stringOption(values, 'database-url') ?? io.env.DATABASE_URL;
    if (url === undefined || url === '') throw usageError('migrate needs --database-url or DATABASE_URL');
    const schema = stringOption(values, 'schema') ?? (io.env.DATABASE_SCHEMA || DEFAULT_SCHEMA);
    const found = await findMigrationSources(resolve(io.cwd, stringOption(values, 'from') ?? '.'));
    const owners = listOption(values, 'owner');
    const unknown = owners.filter((owner) => !found.some((set) => set.owner === owner));
    if (unknown.length > 0) {
      throw usageError(
        `no migrations of ${unknown.join(', ')} found (found: ${found.map((s) => s.owner).join(', ')})`,
      );
    }
    const sets = owners.length === 0 ? found : found.filter((set) => owners.includes(set.owner));
    const db = pgDatabase({ pool: new pg.Pool({ connectionString: url, max: 1 }), ownsPool: true });
    try {
      const result = await migrate({ db, schema, sets });
      const current = result.alreadyApplied.length + result.applied.length + result.adopted.length;
      const summary = {
        schema,
        owners: sets.map((set) => set.owner),
        applied: result.applied,
        adopted: result.adopted,
        functions: result.functions,
        current,
      };
      if (global.json) writeJson(io.stdout, summary);
      else {
        for (const name of result.applied) writeLine(io.stdout, `applied ${name}`);
        for (const name of result.adopted) writeLine(io.stdout, `adopted ${name}`);
        for (const name of result.functions) writeLine(io.stdout, `function ${name}`);
        writeLine(
          io.stdout,
          `schema ${schema} is current: ${current} migration(s) of ${summary.owners.join(', ')}; ${result.applied.length} applied now`,
        );
      }
      return ExitCode.ok;
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined) {
        throw new CliError(ExitCode.unreachable, `cannot reach the database (${code})`, {
          cause: error,
        });
      }
      const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
      throw new CliError(ExitCode.failed, `migrating failed: ${(error as Error).message}${cause}`, {
        cause: error,
      });
    } finally {
      await db.close();
    }
  },
};
