import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConcordError } from '@concord/core';
import type { FastifyInstance } from 'fastify';
import { serviceKitErrors } from './errors.js';
import { openApiDocument } from './openapi-document.js';
import type { DocumentedRoute, OpenApiInfo } from './openapi-document.js';
import { errorResponse } from './openapi-schemas.js';

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document of every route the server has) and `GET /docs` (Swagger
 * UI showing it). Both are public whatever the authentication settings (DESIGN §5): the document holds
 * the API's shape, no data and no configuration, and the page calls the API with the token its user
 * enters. Swagger UI's files come from the `swagger-ui-dist` package: the page works offline.
 */

const require = createRequire(import.meta.url);
const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));

/** Concord's version, as its packages give it. */
export const CONCORD_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The page's own files and the Swagger UI files it loads; nothing else is served under `/docs/`. */
const ASSETS: Readonly<Record<string, { readonly type: string; readonly file?: string }>> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { type: 'image/png' },
  'init.js': { type: 'text/javascript; charset=utf-8', file: 'init' },
};

/** Swagger UI sets styles from script; everything else only from this origin, and no framing. */
const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Relative addresses, so the page works behind a proxy that serves the API under a path prefix.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Concord API</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// No validator badge: it would send the document to an outside service.
const INIT = `window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const text = (description: string, type: string) => ({
  description,
  content: { [type]: { schema: { type: 'string' } } },
});

export interface OpenApiRoutesOptions {
  readonly info: OpenApiInfo;
  /** The server's routes, read when the document is asked for (every route is registered by then). */
  readonly routes: () => readonly DocumentedRoute[];
}

export function registerOpenApiRoutes(app: FastifyInstance, options: OpenApiRoutesOptions): void {
  const config = { scope: 'public' as const };
  let document: string | undefined;
  const assets = new Map<string, Buffer>();

  app.get(
    '/openapi.json',
    {
      config,
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI 3.1 document',
        tags: ['documentation'],
        response: {
          200: {
            description: 'The OpenAPI 3.1 document of every route this server has.',
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
            additionalProperties: true,
          },
        },
      },
    },
    async (_request, reply) => {
      // Built on the first request, once every module has registered its routes.
      document ??= JSON.stringify(openApiDocument(options.info, options.routes()));
      return reply.type('application/json; charset=utf-8').send(document);
    },
  );

  app.get(
    '/docs',
    {
      config,
      schema: {
        operationId: 'getDocsPage',
        summary: 'Interactive API documentation (Swagger UI)',
        tags: ['documentation'],
        response: { 200: text('The page.', 'text/html') },
      },
    },
    (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).send(PAGE),
  );

  app.get<{ Params: { asset: string } }>(
    '/docs/:asset',
    {
      config,
      schema: {
        operationId: 'getDocsAsset',
        summary: 'A file of the documentation page',
        tags: ['documentation'],
        params: {
          type: 'object',
          required: ['asset'],
          properties: { asset: { type: 'string', enum: Object.keys(ASSETS) } },
        },
        response: {
          200: {
            description: 'The file.',
            content: Object.fromEntries(
              [...new Set(Object.values(ASSETS).map((asset) => asset.type.split(';')[0] ?? ''))].map(
                (type) => [type, { schema: { type: 'string' } }],
              ),
            ),
          },
          404: errorResponse('No such file (CONCORD_NOT_FOUND).'),
        },
      },
    },
    async (request, reply) => {
      const name = request.params.asset;
      const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (asset === undefined) {
        throw new ConcordError(serviceKitErrors.NOT_FOUND, `no file /docs/${name}`, {
          details: { path: name },
        });
      }
      let body = assets.get(name);
      if (body === undefined) {
        body = asset.file === 'init' ? Buffer.from(INIT) : await readFile(join(SWAGGER_UI_DIR, name));
        assets.set(name, body);
      }
      return reply
        .type(asset.type)
        .header('cache-control', 'public, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .send(body);
    },
  );
}
