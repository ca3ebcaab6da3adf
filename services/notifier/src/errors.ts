import { defineErrors } from '@concord/core';

/** The notifier's codes: subscriptions and webhook deliveries, streams, its job queue. */
export const notifierErrors = defineErrors({
  SUBSCRIPTION_INVALID: {
    code: 'CONCORD_SUBSCRIPTION_INVALID',
    retryable: false,
    status: 400,
    message: 'The subscription body is not `{ url, filter?, secret }` of the right shapes.',
  },
  SUBSCRIPTION_NOT_FOUND: {
    code: 'CONCORD_SUBSCRIPTION_NOT_FOUND',
    retryable: false,
    status: 404,
    message: 'No subscription with that id.',
  },
  SUBSCRIPTION_ROTATION_PENDING: {
    code: 'CONCORD_SUBSCRIPTION_ROTATION_PENDING',
    retryable: false,
    status: 409,
    message:
      "A secret rotation with a grace period while an earlier rotation's grace period still runs (it would end that one early).",
  },
  FILTER_INVALID: {
    code: 'CONCORD_FILTER_INVALID',
    retryable: false,
    status: 400,
    message: 'A stream or subscription filter is malformed (unknown outcome or topic, bad regex).',
  },
  NOTIFICATION_FORMAT_INVALID: {
    code: 'CONCORD_NOTIFICATION_FORMAT_INVALID',
    retryable: false,
    status: 400,
    message: "A stream's `format` or a subscription's is neither `json` nor `cloudevents`.",
  },
  WEBHOOK_URL_INVALID: {
    code: 'CONCORD_WEBHOOK_URL_INVALID',
    retryable: false,
    status: 400,
    message: 'The webhook URL does not parse.',
  },
  WEBHOOK_URL_SCHEME: {
    code: 'CONCORD_WEBHOOK_URL_SCHEME',
    retryable: false,
    status: 400,
    message: "The webhook URL's scheme is not http or https.",
  },
  WEBHOOK_URL_CREDENTIALS: {
    code: 'CONCORD_WEBHOOK_URL_CREDENTIALS',
    retryable: false,
    status: 400,
    message: 'The webhook URL carries a user name or password.',
  },
  WEBHOOK_URL_PRIVATE: {
    code: 'CONCORD_WEBHOOK_URL_PRIVATE',
    retryable: false,
    status: 400,
    message: 'The webhook URL points (or resolves) to a private, loopback, link-local or reserved address.',
  },
  WEBHOOK_URL_UNRESOLVABLE: {
    code: 'CONCORD_WEBHOOK_URL_UNRESOLVABLE',
    retryable: false,
    status: 400,
    message: "The webhook URL's host name does not resolve.",
  },
  WEBHOOK_DELIVERY_FAILED: {
    code: 'CONCORD_WEBHOOK_DELIVERY_FAILED',
    retryable: true,
    message: 'The receiver answered with a non-2xx status, or the request failed or timed out (retryable).',
  },
  STREAM_CURSOR_INVALID: {
    code: 'CONCORD_STREAM_CURSOR_INVALID',
    retryable: false,
    status: 400,
    message: 'The Last-Event-ID of a stream is not a non-negative integer.',
  },
  STREAM_LIMIT: {
    code: 'CONCORD_STREAM_LIMIT',
    retryable: true,
    status: 503,
    message: 'The notifier serves as many streams as it is configured for (retryable).',
  },
  STREAM_CLIENT_LIMIT: {
    code: 'CONCORD_STREAM_CLIENT_LIMIT',
    retryable: true,
    status: 429,
    message: 'This client address has as many streams open as one client may (retryable).',
  },
  STREAM_RESYNC_REQUIRED: {
    code: 'CONCORD_STREAM_RESYNC_REQUIRED',
    retryable: false,
    message: "The code of the `resync` event: notifications after the client's position were pruned.",
  },
  JOB_QUEUE_CLOSED: {
    code: 'CONCORD_JOB_QUEUE_CLOSED',
    retryable: false,
    message: 'A job queue was used after close().',
  },
});
