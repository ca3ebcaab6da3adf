import { createHmac, timingSafeEqual } from 'node:crypto';

/** Webhook request headers (DESIGN §7). */
export const WebhookHeaders = {
  signature: 'x-concord-signature',
  deliveryId: 'x-concord-delivery-id',
  event: 'x-concord-event',
  timestamp: 'x-concord-timestamp',
  subscriptionId: 'x-concord-subscription-id',
  attempt: 'x-concord-attempt',
} as const;

/** `sha256=<hex>`: HMAC-SHA256 of the raw request body with the subscription's secret. */
export const signBody = (body: string | Uint8Array, secret: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** Receiver side: checks an `X-Concord-Signature` header in constant time. */
export const verifySignature = (
  body: string | Uint8Array,
  secret: string,
  header: string | undefined,
): boolean => {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(body, secret));
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
};
