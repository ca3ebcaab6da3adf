import { notifierErrors } from './errors.js';
import { StandardWebhookHeaders, WebhookVerificationError, signWebhook } from './verify.js';
import { ConcordError } from '@concord/core';

/**
 * Webhook request headers (DESIGN §7): the Standard Webhooks three, which are signed, and Concord's own,
 * which are informative only (`x-concord-delivery-id` repeats `webhook-id`).
 */
export const WebhookHeaders = {
  ...StandardWebhookHeaders,
  deliveryId: 'x-concord-delivery-id',
  event: 'x-concord-event',
  subscriptionId: 'x-concord-subscription-id',
  attempt: 'x-concord-attempt',
} as const;

export interface SignedDelivery {
  /** The subscription's secret; two while a rotation's grace period lasts. */
  readonly secret: string | readonly string[];
  /** The delivery id: stable across retries, so receivers de-duplicate on `webhook-id`. */
  readonly deliveryId: string;
  /** The attempt's send time, Unix seconds. */
  readonly timestamp: number;
  readonly body: string;
}

const sign = (delivery: SignedDelivery): string => {
  try {
    return signWebhook({ ...delivery, id: delivery.deliveryId });
  } catch (error) {
    // The API refuses a malformed `whsec_` secret; one written to the table some other way cannot sign.
    if (!(error instanceof WebhookVerificationError)) throw error;
    throw new ConcordError(notifierErrors.SUBSCRIPTION_INVALID, `cannot sign: ${error.message}`, {
      retryable: false,
      cause: error,
    });
  }
};

/** The signature headers of one attempt. */
export const signatureHeaders = (delivery: SignedDelivery): Record<string, string> => ({
  [WebhookHeaders.id]: delivery.deliveryId,
  [WebhookHeaders.timestamp]: String(delivery.timestamp),
  [WebhookHeaders.signature]: sign(delivery),
});
