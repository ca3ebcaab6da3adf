import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** Checks of real requests and responses against an OpenAPI 3.1 document (the coverage test's helpers). */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document's JSON
type Json = Record<string, any>;

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `schema` with the document's `$ref`s inlined and every object schema that lists its `properties` (and
 * says nothing of others) closed: a member a response has and its schema does not document fails, so the
 * document cannot fall behind what routes return. `allOf` members stay open (their parent is closed).
 */
export const strictSchema = (doc: Json, schema: unknown, inAllOf = false): unknown => {
  if (Array.isArray(schema)) return schema.map((item) => strictSchema(doc, item, inAllOf));
  if (!isObject(schema)) return schema;
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
    if (name === undefined) throw new Error(`unexpected $ref ${ref}`);
    return strictSchema(doc, doc['components']['schemas'][name], inAllOf);
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strictSchema(doc, v)]));
    } else if (key === 'allOf') {
      out[key] = (value as unknown[]).map((item) => strictSchema(doc, item, true));
    } else {
      out[key] = strictSchema(doc, value);
    }
  }
  if (
    !inAllOf &&
    isObject(schema['properties']) &&
    !('additionalProperties' in schema) &&
    !('unevaluatedProperties' in schema)
  ) {
    out['unevaluatedProperties'] = false;
  }
  return out;
};

export interface Checker {
  /** Errors of `value` against `schema` (a schema of the document), or none. */
  errors(schema: unknown, value: unknown): string[];
  /** Errors of a query (strings, as sent) against the operation's query parameters. */
  queryErrors(operation: Json, query: Readonly<Record<string, string>>): string[];
}

export function createChecker(doc: Json): Checker {
  const ajv = addFormats(
    new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }),
  );
  // Query values arrive as text: `limit=5` is the integer 5.
  const queryAjv = addFormats(
    new Ajv2020({
      allErrors: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
      coerceTypes: true,
    }),
  );
  const compiled = new Map<Ajv2020, Map<string, ValidateFunction>>();
  const run = (instance: Ajv2020, schema: unknown, value: unknown): string[] => {
    const cache = compiled.get(instance) ?? new Map<string, ValidateFunction>();
    compiled.set(instance, cache);
    const key = JSON.stringify(schema);
    let validate = cache.get(key);
    if (validate === undefined) {
      validate = instance.compile(strictSchema(doc, schema) as object);
      cache.set(key, validate);
    }
    return validate(value)
      ? []
      : (validate.errors ?? []).map(
          (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
        );
  };
  return {
    errors: (schema, value) => run(ajv, schema, value),
    queryErrors: (operation, query) => {
      const params = ((operation['parameters'] ?? []) as Json[]).filter((p) => p['in'] === 'query');
      const schema = {
        type: 'object',
        properties: Object.fromEntries(
          params.map((p): [string, unknown] => [p['name'] as string, p['schema']]),
        ),
        required: params.filter((p) => p['required'] === true).map((p) => p['name'] as string),
        additionalProperties: false,
      };
      return run(queryAjv, schema, { ...query });
    },
  };
}

/** The documented response of an operation for a status: exact, then `4XX`-style, then `default`. */
export const documentedResponse = (doc: Json, operation: Json, status: number): Json | undefined => {
  const responses = operation['responses'] as Json;
  const found = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default'];
  if (!isObject(found)) return undefined;
  const ref = found['$ref'];
  if (typeof ref !== 'string') return found;
  const name = /^#\/components\/responses\/(.+)$/.exec(ref)?.[1];
  const shared = (doc['components'] as Json)['responses'] as Record<string, Json>;
  return name === undefined ? undefined : shared[name];
};

/** The schema of a content map for a media type (`text/html; charset=utf-8` → `text/html`). */
export const contentSchema = (content: unknown, contentType: string): unknown => {
  if (!isObject(content)) return undefined;
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const entry = content[media];
  return isObject(entry) ? entry['schema'] : undefined;
};
