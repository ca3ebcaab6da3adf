import { SignJWT } from 'jose';

/** @public */
export interface TestTokenOptions {
  /** The HS256 secret the server is configured with (`CONCORD_AUTH_JWT_SECRET`). */
  readonly secret: string;
  readonly subject: string;
  /** Space-separated scopes. */
  readonly scope: string;
  readonly tenant?: string;
  /** Seconds since the epoch, or a jose time span ("5m"); default 5 minutes from now. */
  readonly expiresAt?: number | string;
}

/** An HS256 JWT as an identity provider would issue one, for tests of authenticated routes. */
export const signTestToken = (options: TestTokenOptions): Promise<string> =>
  new SignJWT({ scope: options.scope, ...(options.tenant === undefined ? {} : { tenant: options.tenant }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? '5m')
    .sign(new TextEncoder().encode(options.secret));
