import type { Socket } from 'node:net';
import type { Logger } from '@concord/core';
import { ConcordError, coreErrors, isConcordError } from '@concord/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServiceMetrics } from './metrics.js';
import { OPEN_ACCESS, registerAccessControl } from './access.js';
import type { HttpAccess } from './access.js';
import type { RouteScope } from './auth.js';
import { registerCompression } from './compression.js';
import { serviceKitErrors, toHttpError } from './errors.js';
import { HEALTH_SCHEMA, METRICS_SCHEMA, READINESS_SCHEMA } from './http-schemas.js';
import type { DocumentedRoute } from './openapi-document.js';
import { CONCORD_VERSION, registerOpenApiRoutes } from './openapi-routes.js';

/** A dependency `/readyz` asks about: a database pool, a broker connection. */
export interface ReadinessCheck {
  readonly name: string;
  isReady(): boolean | Promise<boolean>;
}

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly checks: readonly ReadinessCheck[];
  /** Largest accepted request body in bytes. */
  readonly bodyLimit: number;
  /** Request and connection timeouts; defaults in {@link DEFAULT_HTTP_TIMEOUTS}. */
  readonly timeouts?: Partial<HttpTimeouts>;
  /** Authentication, CORS and the rate limit; default {@link OPEN_ACCESS} (authentication off). */
  readonly access?: HttpAccess;
  /** The service's name, in the title of its OpenAPI document (`/openapi.json`). */
  readonly service?: string;
}

/** A registered route and the scope it declares (undefined: none, refused). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly scope: RouteScope | undefined;
}

/**
 * How long a client may take. A request that has not arrived whole in time (headers, then body) is
 * answered 408 or its connection closed, so clients that drip bytes cannot hold connections and
 * buffers; a connection with no traffic either way for `idleMs` is closed. Streaming responses
 * (Server-Sent Events) have arrived whole once their headers have: only `idleMs` applies to them, and
 * a stream route exempts its socket from that with {@link exemptFromIdleTimeout} (it has its own
 * heartbeat and stall deadline).
 */
export interface HttpTimeouts {
  /** Request line and headers. */
  readonly headersMs: number;
  /** The whole request, body included (at least `headersMs`). */
  readonly requestMs: number;
  /** A connection with nothing sent or received. */
  readonly idleMs: number;
  /** An idle keep-alive connection between requests. */
  readonly keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = Object.freeze({
  headersMs: 10_000,
  requestMs: 30_000,
  idleMs: 120_000,
  keepAliveMs: 72_000,
});

/** Lifts the idle timeout from a request's connection (long-lived streams). */
export const exemptFromIdleTimeout = (request: FastifyRequest): void => {
  // `app.inject` (light-my-request) hands routes a mock socket that has no timeouts.
  const socket: Partial<Pick<Socket, 'setTimeout'>> = request.raw.socket;
  socket.setTimeout?.(0);
};

export interface HttpServer {
  readonly app: FastifyInstance;
  /** Every route registered so far, HEAD routes aside. */
  routes(): readonly RouteInfo[];
  /** Makes `/readyz` answer 503 from now on (first step of shutdown). */
  markNotReady(): void;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Fastify with the endpoints every service serves — `/healthz`, `/readyz`, `/metrics` — and the
 * error contract of DESIGN §5: `{ error: { code, message, details? } }` with statuses mapped from codes.
 */
/** Longest path parameter, in characters as sent: a 200-character id with every character encoded. */
export const MAX_PARAM_LENGTH = 2400;

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const send = (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const mapped = fastifyError(error) ?? toHttpError(error);
    if (mapped.status >= 500) options.logger.error({ err: error, url: request.url }, 'request failed');
    void reply.status(mapped.status).send(mapped.body);
  };
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    logger: false,
    // Fastify's defaults turn Node's request timeout off and set no idle timeout (issue 16: 180 bodies
    // dripping a byte every 5 s were all still open after 120 s).
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
      // How often Node looks for requests past these deadlines (its default is 30 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeouts.headersMs / 4))),
    },
    // Event and conflict ids go in the path and may be 200 characters (DESIGN §2), each up to 12 when
    // percent-encoded; Fastify's default allows 100.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bodies parse as JSON.parse does on the broker: a member named `__proto__` (or `constructor`) is an
    // own member, refused by the route's validation (per event: CONCORD_EVENT_RESERVED_KEY; a decision:
    // CONCORD_DECISION_INVALID) instead of failing a whole batch as "not valid JSON" (DESIGN §2).
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    // Errors the router raises before any route or error handler runs (a URL that does not decode,
    // a too long parameter): the same contract instead of Fastify's own body.
    frameworkErrors: send,
  });
  let accepting = true;
  registerCompression(app, options.bodyLimit);
  registerAccessControl(app, options.access ?? OPEN_ACCESS);
  // Route schemas are the API's contract as `/openapi.json` publishes it; they do not change what a
  // route does. Handlers validate their input themselves, answering with the stable codes of DESIGN §5
  // (Fastify's validation would coerce, fill defaults and answer its own errors), and responses are
  // serialized as they are (a schema-driven serializer silently drops members a schema does not list).
  // The OpenAPI coverage test checks real requests and responses against the schemas.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const routes: (RouteInfo & Pick<DocumentedRoute, 'schema'>)[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') {
        const schema = route.schema as DocumentedRoute['schema'];
        routes.push({ method, url: route.url, scope: route.config?.scope, schema });
      }
    }
  });
  registerOpenApiRoutes(app, {
    info: {
      // The all-in-one's service name is `concord`: its document is Concord's whole API.
      title:
        options.service === undefined || options.service === 'concord'
          ? 'Concord'
          : `Concord ${options.service}`,
      version: CONCORD_VERSION,
      description:
        'The HTTP API of Concord (docs/DESIGN.md §5). Errors are `{ error: { code, message, details? } }` ' +
        'with the codes of docs/errors.md. With authentication on (CONCORD_AUTH_*), every operation but ' +
        'the public ones needs a bearer token (a JWT or an API key) holding the scope it lists.',
    },
    routes: () => routes,
  });

  app.addHook('onResponse', (request, reply, done) => {
    options.metrics.httpDuration
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler(send);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: {
        code: serviceKitErrors.NOT_FOUND.code,
        message: `no route ${request.method} ${request.url}`,
      },
    });
  });

  // For orchestrators' probes: open whatever the authentication settings.
  app.get('/healthz', { config: { scope: 'public' }, schema: HEALTH_SCHEMA }, () => ({ status: 'ok' }));
  app.get('/readyz', { config: { scope: 'public' }, schema: READINESS_SCHEMA }, async (_request, reply) => {
    const results = await Promise.all(
      options.checks.map(async (check) => [check.name, accepting && (await check.isReady())] as const),
    );
    const ready = accepting && results.every(([, ok]) => ok);
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results),
    });
  });
  app.get('/metrics', { config: { scope: 'admin' }, schema: METRICS_SCHEMA }, async (_request, reply) =>
    reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );

  let closed: Promise<void> | undefined;
  return {
    app,
    routes: () => routes.map(({ method, url, scope }) => ({ method, url, scope })),
    markNotReady: () => {
      accepting = false;
    },
    listen: (port, host = '0.0.0.0') => app.listen({ port, host }),
    close: () => (closed ??= app.close()),
  };
}

/**
 * Fastify's own client errors (bad JSON, body too large, a URL that does not decode, a too long path
 * parameter) get stable Concord codes.
 */
function fastifyError(error: unknown): ReturnType<typeof toHttpError> | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  // Ours, raised while the body was read (a body that does not decompress): its code stands.
  if (isConcordError(error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return toHttpError(
      new ConcordError(serviceKitErrors.BODY_TOO_LARGE, 'request body exceeds the size limit'),
    );
  }
  // Raised by the router, before routing: a path that does not percent-decode, a too long parameter.
  if (code === 'FST_ERR_BAD_URL') {
    return toHttpError(
      new ConcordError(serviceKitErrors.BAD_URL, 'the request path is not valid percent-encoded UTF-8'),
    );
  }
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return toHttpError(new ConcordError(serviceKitErrors.URL_TOO_LONG, 'a path parameter is too long'));
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return toHttpError(new ConcordError(coreErrors.BATCH_INVALID, 'request body must be JSON'));
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : 'bad request';
    return toHttpError(new ConcordError(coreErrors.BATCH_INVALID, message));
  }
  return undefined;
}
