import { fileURLToPath } from 'node:url';
import { DEFAULT_PAGE_CSP, registerStaticFiles } from '@concord/service-kit';
import type { FastifyInstance } from 'fastify';

/** The console's files: `console/` beside `src/` and `dist/`, shipped with the package. */
export const CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));

export interface ConsoleOptions {
  /**
   * Where the console reads live updates: the notifier's `GET /v1/stream`, absolute or relative to the
   * console's page (the all-in-one: `../v1/stream`). Undefined: the console polls.
   */
  readonly streamUrl?: string;
}

/** The CSP of the console's answers: its own files, its API, and the stream's origin when that is another. */
export const consoleCsp = (streamUrl: string | undefined): string => {
  const origin = streamUrl === undefined || !/^https?:\/\//i.test(streamUrl) ? '' : new URL(streamUrl).origin;
  return `${DEFAULT_PAGE_CSP}; connect-src 'self'${origin === '' ? '' : ` ${origin}`}`;
};

const CONFIG_SCHEMA = {
  operationId: 'getConsoleConfig',
  summary: 'Where the review console reads live updates',
  tags: ['pages'],
  response: {
    200: {
      description: 'The stream’s URL, or null: the console polls.',
      type: 'object',
      required: ['streamUrl'],
      properties: { streamUrl: { type: ['string', 'null'] } },
    },
  },
} as const;

/**
 * The review console at `/console/` (DESIGN §5 "Browser pages"): static files, open like health checks,
 * that read and decide reviews through the API with the person's own token; `/console/config.json`
 * tells it where the stream is.
 */
export const registerConsole = (app: FastifyInstance, options: ConsoleOptions): void => {
  registerStaticFiles(app, { prefix: '/console', dir: CONSOLE_DIR, csp: consoleCsp(options.streamUrl) });
  app.get('/console/config.json', { config: { scope: 'public' }, schema: CONFIG_SCHEMA }, (_request, reply) =>
    reply.header('cache-control', 'no-cache').send({ streamUrl: options.streamUrl ?? null }),
  );
};
