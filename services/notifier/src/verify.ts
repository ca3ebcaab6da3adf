/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), for the notifier and for receivers:
 * `@concord/notifier/verify` imports nothing but `node:crypto`, so a receiver can use it without the
 * notifier's server dependencies.
 *
 * A delivery carries `webhook-id` (Concord's delivery id, the same on every retry), `webhook-timestamp`
 * (the attempt's send time, Unix seconds) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<raw body>">`, several space-separated when several secrets sign.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const StandardWebhookHeaders = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/**
 * Why a delivery failed verification: this entry's error table, in the shape of the other packages'
 * tables (`defineErrors` of `@concord/core`, which this entry does not import). Never retryable: the
 * same request fails the same way.
 */
export const verifyErrors = Object.freeze({
  WEBHOOK_HEADERS_MISSING: {
    code: 'CONCORD_WEBHOOK_HEADERS_MISSING',
    retryable: false,
    message: '`webhook-id`, `webhook-timestamp` or `webhook-signature` is missing (or given twice).',
  },
  WEBHOOK_TIMESTAMP_INVALID: {
    code: 'CONCORD_WEBHOOK_TIMESTAMP_INVALID',
    retryable: false,
    message: '`webhook-timestamp` is not a whole number of seconds.',
  },
  WEBHOOK_TIMESTAMP_TOO_OLD: {
    code: 'CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD',
    retryable: false,
    message: 'The timestamp is older than the tolerance: a late or replayed delivery.',
  },
  WEBHOOK_TIMESTAMP_TOO_NEW: {
    code: 'CONCORD_WEBHOOK_TIMESTAMP_TOO_NEW',
    retryable: false,
    message: "The timestamp is further ahead of the receiver's clock than the tolerance.",
  },
  WEBHOOK_SIGNATURE_INVALID: {
    code: 'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    retryable: false,
    message: 'No `v1` signature in the header matches any of the secrets.',
  },
  WEBHOOK_SECRET_INVALID: {
    code: 'CONCORD_WEBHOOK_SECRET_INVALID',
    retryable: false,
    message: 'A `whsec_` secret whose rest is not base64 of at least 8 bytes.',
  },
} as const);

type VerifyError = (typeof verifyErrors)[keyof typeof verifyErrors];
export type WebhookVerificationCode = VerifyError['code'];

/**
 * A plain Error with Concord's `code` and `retryable` (not core's ConcordError, which would bring
 * `@concord/core` into this entry).
 */
export class WebhookVerificationError extends Error {
  readonly retryable = false;
  readonly code: WebhookVerificationCode;
  constructor(error: VerifyError, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = error.code;
  }
}

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==?|[A-Za-z0-9+/]{3}=?)?$/;
const MIN_KEY_BYTES = 8;

/**
 * The HMAC key of a secret: `whsec_<base64>` is the decoded bytes (as Standard Webhooks libraries read
 * it); any other secret is its UTF-8 bytes (their `raw` format), so secrets registered before this
 * scheme keep working. Throws CONCORD_WEBHOOK_SECRET_INVALID for a malformed `whsec_` secret.
 */
export const webhookSigningKey = (secret: string): Uint8Array => {
  if (!secret.startsWith(SECRET_PREFIX)) return new TextEncoder().encode(secret);
  const encoded = secret.slice(SECRET_PREFIX.length);
  const bytes = BASE64.test(encoded) ? Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)) : undefined;
  if (bytes === undefined || bytes.length < MIN_KEY_BYTES) {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_SECRET_INVALID,
      `a ${SECRET_PREFIX} secret must be followed by base64 of at least ${MIN_KEY_BYTES} bytes`,
    );
  }
  return bytes;
};

const signature = (key: Uint8Array, id: string, timestamp: string, body: string | Uint8Array): string =>
  createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');

const secretsOf = (secret: string | readonly string[]): readonly string[] =>
  typeof secret === 'string' ? [secret] : secret;

export interface SignWebhookInput {
  /** One secret, or several (rotation): one `v1,` signature each, space-separated. */
  readonly secret: string | readonly string[];
  readonly id: string;
  /** Unix seconds. */
  readonly timestamp: number;
  /** The raw request body, exactly as sent. */
  readonly body: string | Uint8Array;
}

/** The `webhook-signature` header value. */
export const signWebhook = ({ secret, id, timestamp, body }: SignWebhookInput): string =>
  secretsOf(secret)
    .map((one) => `v1,${signature(webhookSigningKey(one), id, String(timestamp), body)}`)
    .join(' ');

/** Fetch's `Headers`, or a record such as node:http's `IncomingHttpHeaders` (names in any case). */
export type WebhookRequestHeaders =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

const headerOf = (headers: WebhookRequestHeaders, name: string): string | readonly string[] | undefined => {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : record[key];
};

const single = (value: string | readonly string[] | undefined): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export interface VerifyWebhookInput {
  /** The subscription's secret; several while rotating (any one may match). */
  readonly secret: string | readonly string[];
  readonly headers: WebhookRequestHeaders;
  /** The raw request body, before any parsing: re-serialized JSON does not verify. */
  readonly body: string | Uint8Array;
  /** How far `webhook-timestamp` may be from the receiver's clock, either way. Default 300. */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, milliseconds since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

export interface VerifiedWebhook {
  /** `webhook-id`: the delivery id, the same on every attempt. De-duplicate on it. */
  readonly id: string;
  /** `webhook-timestamp`, Unix seconds. */
  readonly timestamp: number;
}

/**
 * Checks a delivery: the three headers present, the timestamp within `toleranceSeconds` of `now`
 * (older is a replay or a late delivery), and one `v1` signature matching one of the secrets, compared in
 * constant time. Throws WebhookVerificationError (with its `code`) otherwise. Signatures stop replays
 * only beyond the tolerance: receivers should also remember the `webhook-id`s they handled for at least
 * that long and drop repeats (delivery is at least once anyway).
 */
export const verifyWebhook = (input: VerifyWebhookInput): VerifiedWebhook => {
  const id = single(headerOf(input.headers, StandardWebhookHeaders.id));
  const stamp = single(headerOf(input.headers, StandardWebhookHeaders.timestamp));
  const given = headerOf(input.headers, StandardWebhookHeaders.signature);
  const signatures = typeof given === 'string' ? given : given?.join(' ');
  if (id === undefined || stamp === undefined || signatures === undefined || signatures === '') {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_HEADERS_MISSING,
      'webhook-id, webhook-timestamp and webhook-signature are required, once each',
    );
  }
  if (!/^\d{1,12}$/.test(stamp)) {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_TIMESTAMP_INVALID,
      `webhook-timestamp ${JSON.stringify(stamp.slice(0, 32))} is not Unix seconds`,
    );
  }
  const timestamp = Number(stamp);
  const tolerance = input.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((input.now ?? Date.now)() / 1000);
  if (nowSeconds - timestamp > tolerance) {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_TIMESTAMP_TOO_OLD,
      `webhook-timestamp is ${nowSeconds - timestamp} s old, over the ${tolerance} s tolerance`,
    );
  }
  if (timestamp - nowSeconds > tolerance) {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_TIMESTAMP_TOO_NEW,
      `webhook-timestamp is ${timestamp - nowSeconds} s ahead, over the ${tolerance} s tolerance`,
    );
  }
  const encoder = new TextEncoder();
  const expected = secretsOf(input.secret).map((secret) =>
    encoder.encode(signature(webhookSigningKey(secret), id, stamp, input.body)),
  );
  const matches = signatures.split(' ').some((entry) => {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') return false;
    const candidate = encoder.encode(entry.slice(comma + 1));
    return expected.some((one) => one.length === candidate.length && timingSafeEqual(one, candidate));
  });
  if (!matches) {
    throw new WebhookVerificationError(
      verifyErrors.WEBHOOK_SIGNATURE_INVALID,
      'no v1 signature in webhook-signature matches the secret',
    );
  }
  return { id, timestamp };
};
