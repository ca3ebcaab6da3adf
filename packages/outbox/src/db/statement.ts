/**
 * Statements whose parameters are named where they are built, not numbered in a text far from the
 * array that fills them:
 *
 * ```ts
 * const update = statement`UPDATE ${raw(table)} SET status = ${status}, decision = ${jsonb(record)}
 *   WHERE conflict_id = ${conflictId}`;
 * const insert = insertRow(table, { conflict_id: conflictId, decision: jsonb(record), due_at: epochMs(dueMs) });
 * await tx.query(update.text, update.values);
 * ```
 *
 * Every value becomes a `$n` parameter, in order; only {@link raw} text (identifiers the caller quoted,
 * such as a schema-qualified table) goes into the text itself. The text of a call site is the same on
 * every call, so statements can be prepared.
 */

/** A parameterised statement, as `Sql.query` takes it. */
export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

type Placeholder = (value: unknown) => string;

/** A piece of a statement that is more than one plain parameter: raw text, a cast, an expression. */
export class SqlFragment {
  readonly #render: (placeholder: Placeholder) => string;

  constructor(render: (placeholder: Placeholder) => string) {
    this.#render = render;
  }

  /** The fragment's text, asking `placeholder` for the `$n` of each of its values. */
  render(placeholder: Placeholder): string {
    return this.#render(placeholder);
  }
}

const TYPE = /^[a-z][a-z0-9_]*(\[\])?$/;
const COLUMN = /^[a-z_][a-z0-9_]*$/;

/** Text put into the statement as it is: only for identifiers the caller quoted (never for input). */
export const raw = (text: string): SqlFragment => new SqlFragment(() => text);

/** The value as a parameter cast to `type` (`$n::type`), e.g. `cast(ids, 'text[]')`. */
export const cast = (value: unknown, type: string): SqlFragment => {
  if (!TYPE.test(type)) throw new Error(`not a type name: ${type}`);
  return new SqlFragment((placeholder) => `${placeholder(value)}::${type}`);
};

/** A JSON value (stringified here; null and undefined stay SQL NULL) as a `jsonb` parameter. */
export const jsonb = (value: unknown): SqlFragment =>
  cast(value === undefined || value === null ? null : JSON.stringify(value), 'jsonb');

/** Milliseconds since the epoch (or null) as a `timestamptz`: `to_timestamp($n::float8)`. */
export const epochMs = (ms: number | null | undefined): SqlFragment =>
  new SqlFragment(
    (placeholder) =>
      `to_timestamp(${placeholder(ms === null || ms === undefined ? null : ms / 1000)}::float8)`,
  );

const builder = () => {
  const values: unknown[] = [];
  const placeholder: Placeholder = (value) => {
    values.push(value);
    return `$${values.length}`;
  };
  const part = (value: unknown): string =>
    value instanceof SqlFragment ? value.render(placeholder) : placeholder(value);
  return { values, part };
};

/** A statement from a template: each interpolated value is a parameter, or the fragment it is. */
export const statement = (strings: TemplateStringsArray, ...parts: readonly unknown[]): Statement => {
  const { values, part } = builder();
  let text = strings[0] ?? '';
  parts.forEach((value, i) => {
    text += part(value) + (strings[i + 1] ?? '');
  });
  return { text, values };
};

/**
 * `INSERT INTO <table> (<columns>) VALUES (<values>) <suffix>` from one row by column name, in the
 * row's key order; `suffix` (e.g. `ON CONFLICT … DO NOTHING`, `RETURNING id`) is raw text.
 */
export const insertRow = (table: string, row: Readonly<Record<string, unknown>>, suffix = ''): Statement => {
  const { values, part } = builder();
  const columns = Object.keys(row);
  for (const column of columns) if (!COLUMN.test(column)) throw new Error(`not a column name: ${column}`);
  const rendered = columns.map((column) => part(row[column]));
  const text = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${rendered.join(', ')})`;
  return { text: suffix === '' ? text : `${text} ${suffix}`, values };
};
