import { ConcordError } from '@concord/core';
import { scopeRequestedId, unscopeJson } from '@concord/core/envelope';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loadApiKeysFile } from './api-keys.js';
import { createAuthenticator, grants, unauthenticated } from './auth.js';
import type { Authenticator, Identity, RouteScope } from './auth.js';
import { createRateLimiter } from './rate-limit.js';
import { serviceKitErrors } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope the route needs (DESIGN §5); a route that declares none is refused (deny by default). */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    /** The authenticated caller; undefined when authentication is off. */
    identity: Identity | undefined;
  }
}

/** Who may call the HTTP API, from where, and how often (DESIGN §5 "Authentication"). */
export interface HttpAccess {
  /** Undefined: authentication off, every declared route open. */
  readonly authenticator?: Authenticator;
  /** Origins browsers may call from (`*`: any); empty: no CORS headers. */
  readonly corsOrigins: readonly string[];
  /** Requests a minute per key or subject (per client address with authentication off); 0: no limit. */
  readonly rateLimitPerMin: number;
  readonly now?: () => number;
}

export const OPEN_ACCESS: HttpAccess = Object.freeze({ corsOrigins: [], rateLimitPerMin: 0 });

/** The variables of {@link authEnvShape}, parsed. */
export interface AccessEnv {
  readonly CONCORD_AUTH_JWT_SECRET?: string | undefined;
  readonly CONCORD_AUTH_JWKS_URL?: string | undefined;
  readonly CONCORD_AUTH_JWT_ISSUER?: string | undefined;
  readonly CONCORD_AUTH_JWT_AUDIENCE?: string | undefined;
  readonly CONCORD_AUTH_API_KEYS_FILE?: string | undefined;
  readonly CONCORD_CORS_ORIGINS: readonly string[];
  readonly CONCORD_RATE_LIMIT_PER_MIN: number;
}

/** Whether any credential is configured: authentication is on. */
export const authConfigured = (env: AccessEnv): boolean =>
  env.CONCORD_AUTH_JWT_SECRET !== undefined ||
  env.CONCORD_AUTH_JWKS_URL !== undefined ||
  env.CONCORD_AUTH_API_KEYS_FILE !== undefined;

/** Builds the access settings from a service's config; reads the API keys file (a config error if bad). */
export async function httpAccessFromEnv(env: AccessEnv): Promise<HttpAccess> {
  const base = { corsOrigins: env.CONCORD_CORS_ORIGINS, rateLimitPerMin: env.CONCORD_RATE_LIMIT_PER_MIN };
  if (!authConfigured(env)) return base;
  const jwt =
    env.CONCORD_AUTH_JWT_SECRET === undefined && env.CONCORD_AUTH_JWKS_URL === undefined
      ? undefined
      : {
          ...(env.CONCORD_AUTH_JWT_SECRET === undefined ? {} : { secret: env.CONCORD_AUTH_JWT_SECRET }),
          ...(env.CONCORD_AUTH_JWKS_URL === undefined ? {} : { jwksUrl: env.CONCORD_AUTH_JWKS_URL }),
          ...(env.CONCORD_AUTH_JWT_ISSUER === undefined ? {} : { issuer: env.CONCORD_AUTH_JWT_ISSUER }),
          ...(env.CONCORD_AUTH_JWT_AUDIENCE === undefined ? {} : { audience: env.CONCORD_AUTH_JWT_AUDIENCE }),
        };
  const apiKeys =
    env.CONCORD_AUTH_API_KEYS_FILE === undefined
      ? undefined
      : await loadApiKeysFile(env.CONCORD_AUTH_API_KEYS_FILE);
  return {
    ...base,
    authenticator: createAuthenticator({
      ...(jwt === undefined ? {} : { jwt }),
      ...(apiKeys === undefined ? {} : { apiKeys }),
    }),
  };
}

const CORS_ALLOW_HEADERS = 'authorization, content-type, content-encoding, last-event-id, idempotency-key';
const CORS_EXPOSE_HEADERS = 'retry-after, location, www-authenticate';

const bearerChallenge = (error?: { code: string; description: string }): string =>
  error === undefined
    ? 'Bearer realm="concord"'
    : `Bearer realm="concord", error="${error.code}", error_description="${error.description.replaceAll('"', "'")}"`;

/**
 * The access control every service's HTTP server runs before routing to a handler, in this order:
 * CORS (a preflight is answered here), authentication (401), the rate limit (429), the route's scope (403).
 * `public` routes (health checks) skip all but CORS.
 */
export function registerAccessControl(app: FastifyInstance, access: HttpAccess): void {
  const { authenticator } = access;
  const anyOrigin = access.corsOrigins.includes('*');
  const origins = new Set(access.corsOrigins);
  const limiter =
    access.rateLimitPerMin > 0
      ? createRateLimiter({
          perMinute: access.rateLimitPerMin,
          ...(access.now === undefined ? {} : { now: access.now }),
        })
      : undefined;

  app.decorateRequest('identity', undefined);

  /** CORS headers for an allowed origin; true when the request was a preflight, answered here. */
  const cors = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined || origins.size === 0) return false;
    void reply.header('vary', 'Origin');
    if (!anyOrigin && !origins.has(origin)) return false;
    void reply.header('access-control-allow-origin', origin);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      void reply
        .header('access-control-allow-methods', 'GET, HEAD, POST, DELETE')
        .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
        .header('access-control-max-age', '600')
        .status(204)
        .send();
      return true;
    }
    void reply.header('access-control-expose-headers', CORS_EXPOSE_HEADERS);
    return false;
  };

  const authenticate = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<Identity | undefined> => {
    if (authenticator === undefined) return undefined;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (match?.[1] === undefined) {
      void reply.header('www-authenticate', bearerChallenge());
      throw unauthenticated(
        header === undefined
          ? 'a bearer token is required'
          : 'the Authorization header is not "Bearer <token>"',
      );
    }
    try {
      return await authenticator.authenticate(match[1]);
    } catch (error) {
      if (error instanceof ConcordError && error.code === serviceKitErrors.UNAUTHENTICATED.code) {
        void reply.header(
          'www-authenticate',
          bearerChallenge({ code: 'invalid_token', description: error.message }),
        );
      }
      throw error;
    }
  };

  // What a tenant's caller is answered holds its ids as it knows them, its tenant's prefix taken out.
  app.addHook('preSerialization', async (request, _reply, payload) =>
    unscopeJson(tenantOf(request), payload),
  );

  app.addHook('onRequest', async (request, reply) => {
    if (cors(request, reply)) return reply;
    const scope = request.is404 ? undefined : request.routeOptions.config.scope;
    if (scope === 'public') return undefined;
    const identity = await authenticate(request, reply);
    request.identity = identity;
    if (limiter !== undefined) {
      try {
        limiter.take(identity?.limitKey ?? `ip:${request.ip}`);
      } catch (error) {
        const details = (error as ConcordError).details as { retryAfterSeconds: number };
        void reply.header('retry-after', String(details.retryAfterSeconds));
        throw error;
      }
    }
    // No route: the not-found handler answers (to an authenticated caller only).
    if (request.is404) return undefined;
    if (scope === undefined) {
      throw new ConcordError(
        serviceKitErrors.FORBIDDEN,
        `${request.method} ${request.routeOptions.url ?? ''} declares no scope`,
      );
    }
    if (scope === 'admin' && identity?.tenant !== undefined) {
      // Admin routes act on the whole deployment (every tenant's rows): a tenant's credential never does.
      throw new ConcordError(
        serviceKitErrors.FORBIDDEN,
        `this route acts on every tenant's data: it needs an admin credential with no tenant`,
        { details: { scope, tenant: identity.tenant } },
      );
    }
    if (identity !== undefined && !grants(identity, scope)) {
      void reply.header(
        'www-authenticate',
        `Bearer realm="concord", error="insufficient_scope", scope="${scope}"`,
      );
      throw new ConcordError(serviceKitErrors.FORBIDDEN, `this route needs the ${scope} scope`, {
        details: { scope },
      });
    }
    return undefined;
  });
}

/** The caller's tenant: the credential's, `undefined` for the default tenant (or authentication off). */
export const tenantOf = (request: FastifyRequest): string | undefined => request.identity?.tenant;

/**
 * An id the caller names in a path or query, as stored for the caller's tenant; `undefined` when it
 * names nothing the caller may see (it holds the tenant separator), which the route answers as not found.
 */
export const requestedId = (request: FastifyRequest, id: string): string | undefined =>
  scopeRequestedId(tenantOf(request), id);

/** The caller's authenticated subject, when authentication is on. */
export const subjectOf = (request: FastifyRequest): string | undefined => request.identity?.subject;
