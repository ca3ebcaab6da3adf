import { ConcordError } from '@concord/core';
import { registerErrorStatus } from '@concord/service-kit';

/** Stable error codes the notifier raises. */
export const NotifierErrorCode = {
  /** The subscription body is not `{ url, filter?, secret }` of the right shapes. */
  subscriptionInvalid: 'CONCORD_SUBSCRIPTION_INVALID',
  subscriptionNotFound: 'CONCORD_SUBSCRIPTION_NOT_FOUND',
  /** A stream or subscription filter is malformed (unknown outcome or topic, bad regex). */
  filterInvalid: 'CONCORD_FILTER_INVALID',
  /** The webhook URL does not parse. */
  urlInvalid: 'CONCORD_WEBHOOK_URL_INVALID',
  /** The webhook URL's scheme is not http or https. */
  urlScheme: 'CONCORD_WEBHOOK_URL_SCHEME',
  /** The webhook URL carries a user name or password. */
  urlCredentials: 'CONCORD_WEBHOOK_URL_CREDENTIALS',
  /** The webhook URL points (or resolves) to a private, loopback, link-local or reserved address. */
  urlPrivate: 'CONCORD_WEBHOOK_URL_PRIVATE',
  /** The webhook URL's host name does not resolve. */
  urlUnresolvable: 'CONCORD_WEBHOOK_URL_UNRESOLVABLE',
  /** The receiver answered with a non-2xx status, or the request failed or timed out (retryable). */
  deliveryFailed: 'CONCORD_WEBHOOK_DELIVERY_FAILED',
  /** A stream's `format` or a subscription's is neither `json` nor `cloudevents`. */
  formatInvalid: 'CONCORD_NOTIFICATION_FORMAT_INVALID',
  /** The Last-Event-ID of a stream is not a non-negative integer. */
  cursorInvalid: 'CONCORD_STREAM_CURSOR_INVALID',
  /** The notifier serves as many streams as it is configured for (503, retryable). */
  streamLimit: 'CONCORD_STREAM_LIMIT',
  /** This client address has as many streams open as one client may (429, retryable). */
  streamClientLimit: 'CONCORD_STREAM_CLIENT_LIMIT',
  /** A job queue was used after close(). */
  queueClosed: 'CONCORD_JOB_QUEUE_CLOSED',
} as const;

export type NotifierErrorCode = (typeof NotifierErrorCode)[keyof typeof NotifierErrorCode];

export const notifierError = (
  code: NotifierErrorCode,
  message: string,
  options: { retryable?: boolean; cause?: unknown; details?: unknown } = {},
): ConcordError => new ConcordError(code, message, options);

/** HTTP statuses of the codes above; called once by the module factory. Idempotent. */
export const registerNotifierErrorStatuses = (): void => {
  registerErrorStatus(NotifierErrorCode.subscriptionInvalid, 400);
  registerErrorStatus(NotifierErrorCode.subscriptionNotFound, 404);
  registerErrorStatus(NotifierErrorCode.filterInvalid, 400);
  registerErrorStatus(NotifierErrorCode.formatInvalid, 400);
  registerErrorStatus(NotifierErrorCode.urlInvalid, 400);
  registerErrorStatus(NotifierErrorCode.urlScheme, 400);
  registerErrorStatus(NotifierErrorCode.urlCredentials, 400);
  registerErrorStatus(NotifierErrorCode.urlPrivate, 400);
  registerErrorStatus(NotifierErrorCode.urlUnresolvable, 400);
  registerErrorStatus(NotifierErrorCode.cursorInvalid, 400);
  registerErrorStatus(NotifierErrorCode.streamLimit, 503);
  registerErrorStatus(NotifierErrorCode.streamClientLimit, 429);
};
