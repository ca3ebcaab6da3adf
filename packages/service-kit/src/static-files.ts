import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { serviceKitErrors } from './errors.js';
import { errorResponse } from './openapi-schemas.js';

/** The types a static page is made of; any other file is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** One path segment a file may have: no `..`, no hidden files, no separators or encoded ones. */
const SEGMENT = /^[A-Za-z0-9][\w.-]{0,99}$/;
const MAX_DEPTH = 4;

/** Nothing but this origin's own files, and no framing (DESIGN §5 "Browser pages"). */
export const DEFAULT_PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface StaticFilesOptions {
  /** Where the pages are served, e.g. `/console` (no trailing slash). */
  readonly prefix: string;
  /** The directory the files are read from. */
  readonly dir: string;
  /** `Content-Security-Policy` of every answer. Default {@link DEFAULT_PAGE_CSP}. */
  readonly csp?: string;
}

/** The error contract's 404, as the not-found handler answers it. */
const notFound = (reply: FastifyReply, path: string): FastifyReply =>
  reply.status(404).send({ error: { code: serviceKitErrors.NOT_FOUND.code, message: `no file ${path}` } });

/**
 * Serves a directory of static files (a browser page: HTML, scripts, styles) under `prefix`: `prefix/`
 * is its `index.html`, `prefix` redirects there. The routes are `public`: the files carry no data (a
 * page reads the API with the user's token, like any client). Only files whose path segments are plain
 * names (no dot first, no `..`) and whose type is known are served, read from `dir` on each request.
 */
export function registerStaticFiles(app: FastifyInstance, options: StaticFilesOptions): void {
  const { prefix, dir } = options;
  const csp = options.csp ?? DEFAULT_PAGE_CSP;

  const send = async (reply: FastifyReply, segments: readonly string[]): Promise<FastifyReply> => {
    const shown = `${prefix}/${segments.join('/')}`;
    const type = CONTENT_TYPES[extname(segments.at(-1) ?? '').toLowerCase()];
    if (
      type === undefined ||
      segments.length > MAX_DEPTH ||
      !segments.every((segment) => SEGMENT.test(segment))
    ) {
      return notFound(reply, shown);
    }
    let body: Buffer;
    try {
      body = await readFile(join(dir, ...segments));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return notFound(reply, shown);
      throw error;
    }
    return reply
      .header('content-type', type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', csp)
      .send(body);
  };

  const config = { scope: 'public' as const };
  const name = prefix.replace(
    /[^A-Za-z0-9]+(.)?/g,
    (_match, c: string | undefined) => c?.toUpperCase() ?? '',
  );
  const page = { tags: ['pages'], summary: `The ${prefix}/ page` };
  const text = (types: readonly string[]): Record<string, { schema: { type: 'string' } }> =>
    Object.fromEntries(types.map((type) => [type.split(';')[0] ?? type, { schema: { type: 'string' } }]));
  app.get(
    prefix,
    {
      config,
      schema: {
        ...page,
        operationId: `get${name}Redirect`,
        response: { 308: { description: `Redirects to ${prefix}/.`, type: 'null' } },
      },
    },
    (_request, reply) => reply.redirect(`${prefix}/`, 308),
  );
  app.get(
    `${prefix}/`,
    {
      config,
      schema: {
        ...page,
        operationId: `get${name}Page`,
        response: { 200: { description: 'The page.', content: text(['text/html']) } },
      },
    },
    (_request, reply) => send(reply, ['index.html']),
  );
  app.get<{ Params: { '*': string } }>(
    `${prefix}/*`,
    {
      config,
      schema: {
        ...page,
        operationId: `get${name}File`,
        summary: `A file of the ${prefix}/ page`,
        params: {
          type: 'object',
          properties: { '*': { type: 'string', description: 'The file’s path under the page.' } },
        },
        response: {
          200: { description: 'The file.', content: text(Object.values(CONTENT_TYPES)) },
          404: errorResponse('No such file (CONCORD_NOT_FOUND).'),
        },
      },
    },
    (request, reply) => send(reply, request.params['*'].split('/')),
  );
}
