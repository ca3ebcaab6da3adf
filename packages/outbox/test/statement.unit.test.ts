import { describe, expect, it } from 'vitest';
import { cast, epochMs, insertRow, jsonb, raw, statement } from '../src/db/statement.js';

describe('statements with named parameters', () => {
  it('numbers each interpolated value in order and puts raw text in as it is', () => {
    const table = '"concord".conflicts';
    const built = statement`UPDATE ${raw(table)} SET status = ${'resolved'}, version = COALESCE(${null}, version)
      WHERE conflict_id = ${'c1'}`;
    expect(built.text).toBe(`UPDATE "concord".conflicts SET status = $1, version = COALESCE($2, version)
      WHERE conflict_id = $3`);
    expect(built.values).toEqual(['resolved', null, 'c1']);
  });

  it('casts, stringifies JSON (null and undefined stay NULL) and turns epoch milliseconds into timestamps', () => {
    const built = statement`SELECT ${cast(['a'], 'text[]')}, ${jsonb({ a: 1 })}, ${jsonb(undefined)}, ${epochMs(1_500)}, ${epochMs(undefined)}`;
    expect(built.text).toBe(
      'SELECT $1::text[], $2::jsonb, $3::jsonb, to_timestamp($4::float8), to_timestamp($5::float8)',
    );
    expect(built.values).toEqual([['a'], '{"a":1}', null, 1.5, null]);
  });

  it('builds an INSERT from one row by column name, the suffix after it', () => {
    const built = insertRow(
      't',
      { id: 'x', record: jsonb([1]), detected_at: cast(null, 'timestamptz'), n: 3 },
      'ON CONFLICT (id) DO NOTHING',
    );
    expect(built.text).toBe(
      'INSERT INTO t (id, record, detected_at, n) VALUES ($1, $2::jsonb, $3::timestamptz, $4) ON CONFLICT (id) DO NOTHING',
    );
    expect(built.values).toEqual(['x', '[1]', null, 3]);
  });

  it('refuses a column or type name that could carry SQL', () => {
    expect(() => insertRow('t', { 'id) VALUES (1); --': 1 })).toThrow(/not a column name/);
    expect(() => cast(1, 'int; DROP TABLE t')).toThrow(/not a type name/);
  });
});
