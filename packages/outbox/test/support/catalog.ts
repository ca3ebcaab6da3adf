import type { Sql } from '../../src/index.js';

/** The runners' own bookkeeping, which differs between the chain and the sets by design. */
const BOOKKEEPING = ['schema_migrations', 'schema_versions', 'schema_functions'];

/**
 * What a schema holds, as sorted lines with the schema's name replaced by `<schema>` (so two schemas
 * compare equal when they differ only in name): relations, columns (position, type, default,
 * nullability, identity, generation), constraints, indexes, functions (full definition with their
 * settings) and triggers.
 */
export const readCatalog = async (sql: Sql, schema: string): Promise<Record<string, string[]>> => {
  const lines = async (text: string): Promise<string[]> => {
    const { rows } = await sql.query<{ line: string }>(text, [schema, BOOKKEEPING]);
    return rows.map((row) => row.line.replaceAll(schema, '<schema>')).sort();
  };
  return {
    relations: await lines(
      `SELECT c.relkind::text || ' ' || c.relname AS line FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname <> ALL($2::text[])
         AND c.relname NOT LIKE ALL (SELECT b || '%' FROM unnest($2::text[]) b)`,
    ),
    columns: await lines(
      `SELECT concat_ws(' | ', table_name, ordinal_position, column_name, data_type, udt_name,
         column_default, is_nullable, is_identity, identity_generation, is_generated,
         generation_expression) AS line
       FROM information_schema.columns WHERE table_schema = $1 AND table_name <> ALL($2::text[])`,
    ),
    constraints: await lines(
      `SELECT c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS line
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
       WHERE n.nspname = $1 AND c.conrelid::regclass::text NOT LIKE ALL (
         SELECT '%' || b FROM unnest($2::text[]) b)`,
    ),
    indexes: await lines(
      `SELECT indexdef AS line FROM pg_indexes WHERE schemaname = $1 AND tablename <> ALL($2::text[])`,
    ),
    functions: await lines(
      `SELECT pg_get_functiondef(p.oid) AS line FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND $2::text[] IS NOT NULL`,
    ),
    triggers: await lines(
      `SELECT pg_get_triggerdef(t.oid) AS line FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND NOT t.tgisinternal AND $2::text[] IS NOT NULL`,
    ),
  };
};
