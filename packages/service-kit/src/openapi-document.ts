import type { RouteScope } from './auth.js';
import { namedSchemaOf, openApiPath, schemaName } from './openapi-schemas.js';
import type { JsonSchema } from './openapi-schemas.js';

/**
 * The OpenAPI 3.1 document of a server, generated from its routes' Fastify schemas (DESIGN §5 "The
 * contract as a document"): `params`, `querystring` and `headers` become parameters, `body` the request
 * body, `response` the responses (a status's schema, or Fastify's `{ description?, content: { <media
 * type>: { schema } } }`), and `summary`, `description`, `tags`, `operationId`, `deprecated` and `hide`
 * mean what they mean in OpenAPI. The route's `config.scope` becomes its security requirement. Schemas
 * registered with `namedSchema` are emitted once, under `components.schemas`, and referenced.
 */

/** What the generator reads of a route: Fastify's `onRoute` options. */
export interface DocumentedRoute {
  readonly method: string;
  readonly url: string;
  readonly scope: RouteScope | undefined;
  readonly schema: JsonSchema | undefined;
}

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

type Json = Record<string, unknown>;

const SECURITY_SCHEMES = {
  bearerJwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A JWT (HS256 with CONCORD_AUTH_JWT_SECRET, or a key of CONCORD_AUTH_JWKS_URL) whose `scope` claim ' +
      'holds the scopes the operation needs.',
  },
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key of CONCORD_AUTH_API_KEYS_FILE, sent as a bearer token; the file gives its scopes.',
  },
} as const;

const SHARED_RESPONSES = {
  Unauthenticated: {
    description: 'No bearer token, or one that does not verify (CONCORD_UNAUTHENTICATED).',
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  Forbidden: {
    description: 'The token lacks the scope the operation needs (CONCORD_FORBIDDEN).',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  RateLimited: {
    description: 'Over the rate limit (CONCORD_RATE_LIMITED); Retry-After says when to come back.',
    headers: { 'Retry-After': { schema: { type: 'integer' } } },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  Error: {
    description: 'A failure; `error.code` says which (docs/errors.md).',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
} as const;

const TAG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  events: 'Submit events and read them back (ingest).',
  conflicts: 'Conflicts the resolver recorded, and the decisions people make on them.',
  policy: 'The resolution policy in force, and dry runs of a candidate.',
  aggregates: 'Aggregates as the projector holds them, and their histories.',
  projections: 'Administration of the projections: rebuilds and checkpoints.',
  subscriptions: 'Webhook subscriptions of the notifier.',
  stream: 'Server-Sent Events of notifications.',
  operations: 'Health, readiness and metrics.',
  documentation: 'This document and its interactive page.',
  pages: 'Browser pages served beside the API; they call it with the user’s own token.',
};

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A copy of `value` with every named schema inside it (not `value` itself) replaced by a `$ref`. */
const withRefs = (value: unknown, used: Set<string>, root = true): unknown => {
  if (Array.isArray(value)) return value.map((item) => withRefs(item, used, false));
  if (!isObject(value)) return value;
  const name = root ? undefined : schemaName(value);
  if (name !== undefined) {
    used.add(name);
    return { $ref: `#/components/schemas/${name}` };
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withRefs(item, used, false)]));
};

/** `schema` with its top-level `description` removed (it describes the response or parameter). */
const withoutDescription = (schema: Json): Json => {
  if (schemaName(schema) !== undefined) return schema;
  const { description: _description, ...rest } = schema;
  return rest;
};

const parameters = (schema: unknown, where: 'path' | 'query' | 'header', used: Set<string>): Json[] => {
  if (!isObject(schema) || !isObject(schema['properties'])) return [];
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : []);
  return Object.entries(schema['properties']).map(([key, property]) => {
    const name = where === 'path' && key === '*' ? 'wildcard' : key;
    const description = isObject(property) ? property['description'] : undefined;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: withRefs(isObject(property) ? withoutDescription(property) : property, used),
    };
  });
};

/** The path's parameters: those `params` describes, and a plain string for any it leaves out. */
const pathParameters = (url: string, params: unknown, used: Set<string>): Json[] => {
  const described = parameters(params, 'path', used);
  const declared = new Set(described.map((parameter) => parameter['name']));
  const missing = [...openApiPath(url).matchAll(/\{(\w+)\}/g)]
    .map((match) => match[1])
    .filter((name) => name !== undefined && !declared.has(name))
    .map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  return [...described, ...missing];
};

/** Fastify's `{ content: { <type>: { schema } } }` form, or one JSON schema (application/json). */
const contentOf = (schema: Json, used: Set<string>): Json => {
  const content = isObject(schema['content'])
    ? schema['content']
    : { 'application/json': { schema: withoutDescription(schema) } };
  return withRefs(content, used) as Json;
};

const requestBody = (body: unknown, used: Set<string>): Json | undefined => {
  if (!isObject(body)) return undefined;
  // A body whose members are all optional may be left out altogether.
  const optional =
    body['type'] === 'object' && !(Array.isArray(body['required']) && body['required'].length > 0);
  const description = body['description'];
  return {
    ...(typeof description === 'string' ? { description } : {}),
    required: !optional,
    content: contentOf(body, used),
  };
};

const responses = (response: unknown, scope: RouteScope | undefined, used: Set<string>): Json => {
  const out: Json = {};
  for (const [status, schema] of Object.entries(isObject(response) ? response : {})) {
    if (!isObject(schema)) continue;
    const code = status.replace(/xx$/, 'XX');
    const description = schema['description'];
    out[code] = {
      description: typeof description === 'string' ? description : `${code} response.`,
      ...(schema['type'] === 'null' ? {} : { content: contentOf(schema, used) }),
    };
  }
  const shared = (name: keyof typeof SHARED_RESPONSES) => ({ $ref: `#/components/responses/${name}` });
  if (scope !== 'public') {
    out['401'] ??= shared('Unauthenticated');
    out['403'] ??= shared('Forbidden');
    out['429'] ??= shared('RateLimited');
  }
  out['default'] ??= shared('Error');
  return out;
};

/** `GET /v1/conflicts/:id/decision` → `getV1ConflictsByIdDecision`, when a route names none. */
const derivedOperationId = (method: string, url: string): string =>
  method.toLowerCase() +
  url
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => {
      const param = segment === '*' ? 'wildcard' : /^:(\w+)/.exec(segment)?.[1];
      const word = param === undefined ? segment : `By-${param}`;
      return word
        .split(/[^A-Za-z0-9]+/)
        .filter((part) => part !== '')
        .map((part) => part[0]?.toUpperCase() + part.slice(1))
        .join('');
    })
    .join('');

const scopeNote = (scope: RouteScope | undefined): string =>
  scope === 'public'
    ? 'Public: no token needed, whatever the authentication settings.'
    : scope === undefined
      ? 'Declares no scope: refused (deny by default).'
      : `Needs the \`${scope}\` scope (\`admin\` grants every scope) when authentication is on.`;

const operation = (route: DocumentedRoute, used: Set<string>): Json => {
  const schema: Json = route.schema === undefined ? {} : { ...route.schema };
  const description = typeof schema['description'] === 'string' ? `${schema['description']}\n\n` : '';
  const scopes = route.scope === undefined || route.scope === 'public' ? [] : [route.scope];
  const body = requestBody(schema['body'], used);
  return {
    operationId:
      typeof schema['operationId'] === 'string'
        ? schema['operationId']
        : derivedOperationId(route.method, route.url),
    ...(typeof schema['summary'] === 'string' ? { summary: schema['summary'] } : {}),
    description: description + scopeNote(route.scope),
    ...(Array.isArray(schema['tags']) ? { tags: schema['tags'] } : {}),
    ...(schema['deprecated'] === true ? { deprecated: true } : {}),
    parameters: [
      ...pathParameters(route.url, schema['params'], used),
      ...parameters(schema['querystring'] ?? schema['query'], 'query', used),
      ...parameters(schema['headers'], 'header', used),
    ],
    ...(body === undefined ? {} : { requestBody: body }),
    responses: responses(schema['response'], route.scope, used),
    security: route.scope === 'public' ? [] : [{ bearerJwt: scopes }, { apiKey: scopes }],
    ...(route.scope === undefined ? {} : { 'x-concord-scope': route.scope }),
  };
};

/** The document of `routes` (HEAD routes and those whose schema says `hide` left out). */
export function openApiDocument(info: OpenApiInfo, routes: readonly DocumentedRoute[]): Json {
  // The shared responses refer to the error body.
  const used = new Set<string>(['Error']);
  const paths: Record<string, Json> = {};
  const tags = new Set<string>();
  const operationIds = new Set<string>();
  for (const route of routes) {
    if (route.method === 'HEAD' || route.schema?.['hide'] === true) continue;
    const path = openApiPath(route.url);
    const item = (paths[path] ??= {});
    const op = operation(route, used);
    // Operation ids are unique: a derived one that repeats gets a number.
    let id = op['operationId'] as string;
    for (let n = 2; operationIds.has(id); n += 1) id = `${op['operationId'] as string}${n}`;
    operationIds.add(id);
    op['operationId'] = id;
    for (const tag of (op['tags'] as string[] | undefined) ?? []) tags.add(tag);
    item[route.method.toLowerCase()] = op;
  }
  // Named schemas may refer to others: resolve until none is new.
  const schemas: Record<string, unknown> = {};
  for (let pending = [...used]; pending.length > 0; pending = [...used].filter((n) => !(n in schemas))) {
    for (const name of pending) schemas[name] = withRefs(namedSchemaOf(name), used);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description === undefined ? {} : { description: info.description }),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [...tags]
      .sort()
      .map((name) => ({ name, ...(TAG_DESCRIPTIONS[name] ? { description: TAG_DESCRIPTIONS[name] } : {}) })),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: SHARED_RESPONSES,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
