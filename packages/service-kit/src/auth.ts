import { createHash } from 'node:crypto';
import { ConcordError } from '@concord/core';
import { isTenantName } from '@concord/core/envelope';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { serviceKitErrors } from './errors.js';

/** What a credential may do (DESIGN §5 "Authentication"). `admin` implies every other scope. */
export const SCOPES = [
  'events:write',
  'events:read',
  'conflicts:decide',
  'subscriptions:manage',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** What a route declares in its Fastify `config.scope`: the scope it needs, or `public` (health checks). */
export type RouteScope = Scope | 'public';

/** Who a request comes from: a verified JWT or an API key of the keys file. */
export interface Identity {
  readonly subject: string;
  readonly scopes: ReadonlySet<Scope>;
  /**
   * The token's `tenant` claim (or the key's `tenant`): the tenant whose data the request reads and
   * writes (DESIGN §5 "Tenants"); absent for the default tenant.
   */
  readonly tenant?: string;
  readonly via: 'jwt' | 'api-key';
  /** What the rate limit counts by: the key (its digest's prefix) or the token's subject. */
  readonly limitKey: string;
}

/** An API key of the keys file, its secret kept only as a SHA-256 digest. */
export interface ApiKey {
  readonly sha256: string;
  readonly subject: string;
  readonly scopes: readonly Scope[];
  readonly tenant?: string;
}

export interface JwtOptions {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** A JWKS document's URL (asymmetric keys: RS256, ES256, EdDSA, …). */
  readonly jwksUrl?: string;
  readonly issuer?: string;
  readonly audience?: string;
}

export interface AuthenticatorOptions {
  readonly jwt?: JwtOptions;
  readonly apiKeys?: readonly ApiKey[];
  /** The clock `exp` and `nbf` are checked against (tests). */
  readonly now?: () => Date;
}

/** Turns a bearer credential into an {@link Identity}, or throws `CONCORD_UNAUTHENTICATED`. */
export interface Authenticator {
  /** What is configured, for the start log (never a secret). */
  readonly methods: readonly string[];
  authenticate(credential: string): Promise<Identity>;
}

export const unauthenticated = (message: string): ConcordError =>
  new ConcordError(serviceKitErrors.UNAUTHENTICATED, message);

/** What {@link isTenantName} accepts, for messages. */
export const TENANT_NAME_RULE = '1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit';

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export const grants = (identity: Identity, scope: Scope): boolean =>
  identity.scopes.has('admin') || identity.scopes.has(scope);

const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

/** The `scope` claim: space-separated (RFC 8693), or an array of strings; unknown scopes are ignored. */
const scopesOf = (claim: unknown): Set<Scope> => {
  const items = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim : [];
  return new Set(items.filter((item): item is Scope => typeof item === 'string' && isScope(item)));
};

const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const keys = new Map((options.apiKeys ?? []).map((key) => [key.sha256, key]));
  const jwt = options.jwt;
  const secret = jwt?.secret === undefined ? undefined : new TextEncoder().encode(jwt.secret);
  const jwks: JWTVerifyGetKey | undefined =
    jwt?.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(jwt.jwksUrl));

  const verifyJwt = async (token: string): Promise<Identity> => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (error) {
      throw new ConcordError(serviceKitErrors.UNAUTHENTICATED, 'the bearer token is malformed', {
        cause: error,
      });
    }
    const verifyOptions = {
      ...(jwt?.issuer === undefined ? {} : { issuer: jwt.issuer }),
      ...(jwt?.audience === undefined ? {} : { audience: jwt.audience }),
      ...(options.now === undefined ? {} : { currentDate: options.now() }),
    };
    let payload: JWTPayload;
    try {
      if (alg === 'HS256' && secret !== undefined) {
        ({ payload } = await jwtVerify(token, secret, { ...verifyOptions, algorithms: ['HS256'] }));
      } else if (jwks !== undefined && alg !== undefined && !alg.startsWith('HS') && alg !== 'none') {
        ({ payload } = await jwtVerify(token, jwks, verifyOptions));
      } else {
        throw unauthenticated(`tokens signed with ${alg ?? 'no algorithm'} are not accepted`);
      }
    } catch (error) {
      throw jwtError(error);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw unauthenticated('the token has no sub claim');
    const tenant = payload['tenant'];
    if (tenant !== undefined && (typeof tenant !== 'string' || !isTenantName(tenant)))
      throw unauthenticated(`the token's tenant claim is not a tenant name (${TENANT_NAME_RULE})`);
    return {
      subject: payload.sub,
      scopes: scopesOf(payload['scope']),
      ...(tenant === undefined ? {} : { tenant }),
      via: 'jwt',
      limitKey: `sub:${payload.sub}`,
    };
  };

  return {
    methods: [
      ...(secret === undefined ? [] : ['jwt-hs256']),
      ...(jwks === undefined ? [] : ['jwks']),
      ...(keys.size === 0 ? [] : ['api-keys']),
    ],
    authenticate: async (credential) => {
      // Looked up by digest: the keys file need not hold the keys themselves.
      const digest = sha256Hex(credential);
      const key = keys.get(digest);
      if (key !== undefined) {
        return {
          subject: key.subject,
          scopes: new Set(key.scopes),
          ...(key.tenant === undefined ? {} : { tenant: key.tenant }),
          via: 'api-key',
          limitKey: `key:${digest.slice(0, 16)}`,
        };
      }
      if (jwt !== undefined && JWT_SHAPE.test(credential)) return verifyJwt(credential);
      throw unauthenticated(
        keys.size === 0 ? 'the bearer token is not a JWT' : 'unknown API key or malformed token',
      );
    },
  };
}

/** jose's failures: the credential's fault (401), or the key set's that could not be fetched (503). */
const jwtError = (error: unknown): ConcordError => {
  if (error instanceof ConcordError) return error;
  if (error instanceof joseErrors.JWTExpired) {
    return new ConcordError(serviceKitErrors.UNAUTHENTICATED, 'the token has expired', { cause: error });
  }
  if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
    return new ConcordError(
      serviceKitErrors.AUTH_UNAVAILABLE,
      'the signing keys (JWKS) could not be fetched',
      {
        retryable: true,
        cause: error,
      },
    );
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new ConcordError(serviceKitErrors.UNAUTHENTICATED, 'the token signature does not verify', {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new ConcordError(
      serviceKitErrors.UNAUTHENTICATED,
      `the token's ${error.claim} claim is not accepted`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return new ConcordError(serviceKitErrors.UNAUTHENTICATED, 'no key of the JWKS matches the token', {
      cause: error,
    });
  }
  return new ConcordError(serviceKitErrors.UNAUTHENTICATED, 'the bearer token is invalid', { cause: error });
};
