/**
 * What routes declare for the OpenAPI document (`@concord/service-kit/openapi`): their Fastify schemas,
 * with the helpers below for shared schemas and responses. `openapi-document.ts` turns them into the
 * document `/openapi.json` serves.
 */

declare module 'fastify' {
  /** What a route's schema says for the OpenAPI document beside its parts. */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: readonly string[];
    operationId?: string;
    deprecated?: boolean;
    /** Left out of the document. */
    hide?: boolean;
  }
}

/** A JSON Schema (2020-12, as OpenAPI 3.1 reads it) as routes declare it. */
export type JsonSchema = Readonly<Record<string, unknown>>;

const names = new WeakMap<object, string>();
const byName = new Map<string, object>();

/** The name a schema was registered under, if it was. */
export const schemaName = (schema: object): string | undefined => names.get(schema);

/** The schema registered under a name. */
export const namedSchemaOf = (name: string): object | undefined => byName.get(name);

/**
 * Registers a schema under a name: the document lists it once in `components.schemas` and refers to it
 * wherever a route's schema holds this very object.
 */
export const namedSchema = <T extends object>(name: string, schema: T): T => {
  const known = byName.get(name);
  if (known !== undefined && known !== schema) throw new Error(`schema name ${name} is taken`);
  byName.set(name, schema);
  names.set(schema, name);
  return schema;
};

/** The error body every route answers a failure with (DESIGN §5, docs/errors.md). */
export const ERROR_BODY_SCHEMA = namedSchema('Error', {
  type: 'object',
  description: 'A failure: a stable code (docs/errors.md), a message for people, details for programs.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable error code, e.g. CONCORD_BATCH_INVALID.' },
        message: { type: 'string' },
        details: { description: 'What the code says more about (a path, a limit, the offending value).' },
      },
    },
  },
});

/** A JSON response for a route's `response` map: its description, and its schema (a named one stays named). */
export const jsonResponse = (description: string, schema: object): JsonSchema => ({
  description,
  content: { 'application/json': { schema } },
});

/** A response of the error body, for a route's `response` map. */
export const errorResponse = (description: string): JsonSchema =>
  jsonResponse(description, ERROR_BODY_SCHEMA);

/** A response with no body (204). */
export const NO_CONTENT: JsonSchema = Object.freeze({ description: 'No content.', type: 'null' });

/** `/v1/events/:id` → `/v1/events/{id}`; a wildcard `*` is the parameter `wildcard`. */
export const openApiPath = (url: string): string =>
  url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}').replace(/\*$/, '{wildcard}');
