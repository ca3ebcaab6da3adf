import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signatureHeaders } from '../src/signature.js';
import { verifyErrors, WebhookVerificationError, signWebhook, verifyWebhook } from '../src/verify.js';

// The signing vector of the Standard Webhooks reference library (libraries/javascript/src/webhook.test.ts).
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const at = (seconds: number) => () => seconds * 1000;

/** The scheme computed independently: HMAC-SHA256 of "<id>.<timestamp>.<body>", base64. */
const independent = (key: Buffer | string, id: string, timestamp: number, body: string) =>
  `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;

const codeOf = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.code;
    throw error;
  }
  return 'verified';
};

describe('Standard Webhooks signatures', () => {
  it('signs the reference vector, and agrees with an independent computation', () => {
    expect(signWebhook(vector)).toBe(vector.signature);
    const key = Buffer.from(vector.secret.slice('whsec_'.length), 'base64');
    expect(independent(key, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
    expect(signWebhook({ ...vector, body: new TextEncoder().encode(vector.body) })).toBe(vector.signature);
  });

  it('uses a secret without whsec_ as its UTF-8 bytes', () => {
    const secret = 'secret-ok-0123456789';
    expect(signWebhook({ ...vector, secret })).toBe(
      independent(secret, vector.id, vector.timestamp, vector.body),
    );
  });

  it('sends webhook-id (the delivery id), webhook-timestamp and webhook-signature', () => {
    expect(
      signatureHeaders({
        secret: vector.secret,
        deliveryId: vector.id,
        timestamp: vector.timestamp,
        body: vector.body,
      }),
    ).toEqual({
      'webhook-id': vector.id,
      'webhook-timestamp': String(vector.timestamp),
      'webhook-signature': vector.signature,
    });
  });

  const headers = {
    'webhook-id': vector.id,
    'webhook-timestamp': String(vector.timestamp),
    'webhook-signature': vector.signature,
  };

  it('a stored whsec_ secret that is not base64 fails the delivery for good (dead letter), not a retry', () => {
    const sign = () =>
      signatureHeaders({ secret: 'whsec_%%%%', deliveryId: vector.id, timestamp: 1, body: vector.body });
    expect(sign).toThrow(
      expect.objectContaining({ code: 'CONCORD_SUBSCRIPTION_INVALID', retryable: false }) as Error,
    );
  });

  it('verifies the vector from a header record (any case) or fetch Headers', () => {
    expect(verifyWebhook({ ...vector, headers, now: at(vector.timestamp) })).toEqual({
      id: vector.id,
      timestamp: vector.timestamp,
    });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(codeOf(() => verifyWebhook({ ...vector, headers: upper, now: at(vector.timestamp) }))).toBe(
      'verified',
    );
    expect(
      codeOf(() => verifyWebhook({ ...vector, headers: new Headers(headers), now: at(vector.timestamp) })),
    ).toBe('verified');
  });

  it('refuses a changed body, id or timestamp, another secret, a missing header', () => {
    const now = at(vector.timestamp);
    const check = (input: Partial<Parameters<typeof verifyWebhook>[0]>) =>
      codeOf(() => verifyWebhook({ ...vector, headers, now, ...input }));
    expect(check({ body: `${vector.body} ` })).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');
    expect(check({ headers: { ...headers, 'webhook-id': 'msg_other' } })).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    expect(check({ headers: { ...headers, 'webhook-timestamp': String(vector.timestamp + 1) } })).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    expect(check({ secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAA' })).toBe('CONCORD_WEBHOOK_SIGNATURE_INVALID');
    expect(check({ headers: { ...headers, 'webhook-signature': vector.signature.slice(0, -2) } })).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    expect(check({ headers: { ...headers, 'webhook-signature': `v2,${vector.signature.slice(3)}` } })).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    expect(check({ headers: { ...headers, 'webhook-signature': 'v1,' } })).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    for (const name of Object.keys(headers)) {
      const without = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
      expect(check({ headers: without })).toBe('CONCORD_WEBHOOK_HEADERS_MISSING');
    }
    expect(check({ headers: { ...headers, 'webhook-timestamp': '1614265330.5' } })).toBe(
      'CONCORD_WEBHOOK_TIMESTAMP_INVALID',
    );
    expect(check({ secret: 'whsec_not base64!' })).toBe('CONCORD_WEBHOOK_SECRET_INVALID');
  });

  it('refuses a timestamp outside the tolerance: a replay of a captured delivery fails', () => {
    const verifyAt = (seconds: number, toleranceSeconds?: number) =>
      codeOf(() =>
        verifyWebhook({
          ...vector,
          headers,
          now: at(seconds),
          ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }),
        }),
      );
    expect(verifyAt(vector.timestamp + 300)).toBe('verified');
    expect(verifyAt(vector.timestamp + 301)).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD');
    expect(verifyAt(vector.timestamp + 86_400)).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD');
    expect(verifyAt(vector.timestamp - 300)).toBe('verified');
    expect(verifyAt(vector.timestamp - 301)).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_NEW');
    expect(verifyAt(vector.timestamp + 30, 10)).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD');
    // The default clock is the real one: the 2021 vector is long past.
    expect(codeOf(() => verifyWebhook({ ...vector, headers }))).toBe('CONCORD_WEBHOOK_TIMESTAMP_TOO_OLD');
  });

  it('accepts any matching signature of several (secret rotation), by the sender or the receiver', () => {
    const now = at(vector.timestamp);
    const previous = 'previous-secret-0123';
    const both = signWebhook({ ...vector, secret: [previous, vector.secret] });
    expect(both).toBe(
      `${independent(previous, vector.id, vector.timestamp, vector.body)} ${vector.signature}`,
    );
    // A receiver that knows only one of the two secrets verifies either way round.
    for (const secret of [previous, vector.secret]) {
      expect(
        codeOf(() =>
          verifyWebhook({ ...vector, secret, headers: { ...headers, 'webhook-signature': both }, now }),
        ),
      ).toBe('verified');
    }
    // A receiver rotating its own secrets: any one may match the one signature sent.
    expect(codeOf(() => verifyWebhook({ ...vector, secret: [previous, vector.secret], headers, now }))).toBe(
      'verified',
    );
    expect(codeOf(() => verifyWebhook({ ...vector, secret: [previous], headers, now }))).toBe(
      'CONCORD_WEBHOOK_SIGNATURE_INVALID',
    );
    // Node joins a repeated header into an array: each entry counts.
    expect(
      codeOf(() =>
        verifyWebhook({
          ...vector,
          headers: { ...headers, 'webhook-signature': ['v1,bm9wZQ==', vector.signature] },
          now,
        }),
      ),
    ).toBe('verified');
  });

  it('the README lists every code the verifier throws', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(
      Object.values(verifyErrors)
        .map((error) => error.code)
        .filter((code) => !readme.includes(code)),
    ).toEqual([]);
  });
});
