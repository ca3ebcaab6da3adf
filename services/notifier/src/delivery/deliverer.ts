import { ROOT_CONTEXT, SpanKind, propagation, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { ConcordError, errorCode, isConcordError, silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { unscopeJson } from '@concord/core/envelope';
import type { Database } from '@concord/outbox';
import { runInSpan } from '@concord/bus';
import { CLOUDEVENT_CONTENT_TYPE, formatNotification } from '../cloudevent.js';
import { tenantOfNotification } from '../notification.js';
import { notifierErrors } from '../errors.js';
import { maskUrl } from '../mask-url.js';
import type { NotifierMetrics } from '../metrics.js';
import { DelayJobError } from '../queue/port.js';
import type { Job, JobWorkerOptions } from '../queue/port.js';
import { WebhookHeaders, signatureHeaders } from '../signature.js';
import type { DeliveryRef, DeliveryStore } from '../store/deliveries.js';
import { createDeliveryBatches } from './batches.js';
import { CircuitOpenError } from './breakers.js';
import type { CircuitBreakers } from './breakers.js';
import type { WebhookSender } from './http-sender.js';

export interface DelivererOptions {
  readonly db: Database;
  readonly deliveries: DeliveryStore;
  readonly breakers: CircuitBreakers;
  readonly send: WebhookSender;
  readonly metrics: NotifierMetrics;
  readonly logger?: Logger;
  readonly timeoutMs: number;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Deliveries one statement reads or marks delivered, and such statements at once (of each kind). */
  readonly batch?: { readonly maxBatch?: number; readonly maxInFlight?: number };
}

/** The job handler of deliveries, with the statements its attempts share to close after the queue. */
export interface Deliverer extends JobWorkerOptions<DeliveryRef> {
  /** Call once the job queue is closed (no attempt runs any more). Idempotent. */
  close(): Promise<void>;
}

const httpStatusOf = (error: unknown): number | undefined => {
  if (!isConcordError(error)) return undefined;
  const details = error.details as { status?: unknown } | undefined;
  return typeof details?.status === 'number' ? details.status : undefined;
};

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const hostOf = (url: string): string => {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
};

const tracer = trace.getTracer('@concord/notifier');

/**
 * Runs one delivery attempt in a CONSUMER span continuing the trace of the message that produced the
 * delivery (its context travels with the job), so the job and the webhook POST — whose `traceparent`
 * header the HTTP instrumentation writes from this span — belong to the submitted event's trace.
 */
const deliverySpan = (
  job: Job<DeliveryRef>,
  attempt: number,
  maxAttempts: number,
  run: (span: Span) => Promise<void>,
): Promise<void> => {
  const ref = job.data;
  const carrier: Record<string, string> = {};
  if (ref.traceparent !== undefined) carrier.traceparent = ref.traceparent;
  if (ref.tracestate !== undefined) carrier.tracestate = ref.tracestate;
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  const span = tracer.startSpan(
    'deliver webhook',
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.operation.type': 'process',
        'messaging.message.id': ref.deliveryId,
        'concord.delivery.id': ref.deliveryId,
        'concord.delivery.attempt': attempt,
        'concord.delivery.max_attempts': maxAttempts,
        'concord.subscription.id': ref.subscriptionId,
        'concord.notification.id': ref.notificationId,
      },
    },
    parent,
  );
  return runInSpan(parent, span, run);
};

/**
 * The job handler of webhook deliveries: loads the delivery's subscription (url, secret) and
 * notification from Postgres, POSTs the signed body through the endpoint's circuit breaker, and records
 * the result. An open circuit delays the job without using an attempt. A deleted subscription cancels it.
 * Concurrent attempts share their statements (one read of target and notification, one mark of the
 * delivered, per batch): the job completes only once its delivery is recorded.
 */
export const createDeliverer = (options: DelivererOptions): Deliverer => {
  const { db, deliveries, metrics } = options;
  const batches = createDeliveryBatches({ db, deliveries, ...options.batch });
  const logger = (options.logger ?? silentLogger).child({ component: 'deliverer' });
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;

  const deliver = async (job: Job<DeliveryRef>, attempt: number, span: Span): Promise<void> => {
    const ref = job.data;
    const work = await batches.load(ref.deliveryId);
    if (work === undefined || work.target.status === 'delivered' || work.target.status === 'dead') {
      metrics.deliveries.inc({ result: 'cancelled' });
      span.setAttribute('concord.delivery.result', 'cancelled');
      return;
    }
    const { target, notification } = work;
    // Deliveries are made for the subscriptions of a notification's own tenant; one that is not (made
    // before subscriptions had tenants) is cancelled rather than show a tenant another's notification.
    if (notification === undefined || tenantOfNotification(notification) !== (target.tenant ?? undefined)) {
      metrics.deliveries.inc({ result: 'cancelled' });
      span.setAttribute('concord.delivery.result', 'cancelled');
      return;
    }
    span.setAttributes({
      'concord.notification.kind': notification.kind,
      'server.address': hostOf(target.url),
    });
    // A `cloudevents` subscription gets a structured-mode CloudEvent, signed as any body is. Either holds
    // the ids as the subscription's tenant knows them (DESIGN §5 "Tenants"), and the signature covers them.
    const body = formatNotification(unscopeJson(target.tenant ?? undefined, notification), target.format);
    const headers = {
      'content-type': target.format === 'cloudevents' ? CLOUDEVENT_CONTENT_TYPE : 'application/json',
      'user-agent': 'concord-notifier',
      // Signed afresh on every attempt: the same webhook-id, this attempt's timestamp.
      ...signatureHeaders({
        // While a rotation's grace period lasts, both secrets sign (one `v1,` signature each).
        secret: target.previousSecret === null ? target.secret : [target.secret, target.previousSecret],
        deliveryId: ref.deliveryId,
        timestamp: Math.floor(now() / 1000),
        body,
      }),
      [WebhookHeaders.deliveryId]: ref.deliveryId,
      [WebhookHeaders.event]: notification.kind,
      [WebhookHeaders.subscriptionId]: ref.subscriptionId,
      [WebhookHeaders.attempt]: String(attempt),
    };
    let status: number;
    try {
      status = await options.breakers.execute(target.url, async () => {
        let response: { status: number };
        try {
          response = await options.send({ url: target.url, body, headers, timeoutMs: options.timeoutMs });
        } catch (error) {
          if (isConcordError(error)) throw error;
          throw new ConcordError(
            notifierErrors.WEBHOOK_DELIVERY_FAILED,
            `webhook request failed: ${messageOf(error)}`,
            {
              retryable: true,
              cause: error,
            },
          );
        }
        if (response.status < 200 || response.status >= 300) {
          throw new ConcordError(
            notifierErrors.WEBHOOK_DELIVERY_FAILED,
            `webhook answered ${response.status}`,
            {
              retryable: true,
              details: { status: response.status },
            },
          );
        }
        return response.status;
      });
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        metrics.deliveries.inc({ result: 'circuit_open' });
        span.setAttribute('concord.delivery.result', 'circuit_open');
        // Spread the trial requests a little so a reopened endpoint is not hit by every job at once.
        throw new DelayJobError(Math.max(100, error.retryInMs) + Math.round(random() * 1_000), error.message);
      }
      metrics.deliveries.inc({ result: 'failed' });
      span.setAttribute('concord.delivery.result', 'failed');
      try {
        await deliveries.recordFailure(db, ref.deliveryId, attempt, messageOf(error), httpStatusOf(error));
      } catch (recordError) {
        logger.warn({ err: recordError, deliveryId: ref.deliveryId }, 'recording a failed attempt failed');
      }
      throw error;
    }
    await batches.markDelivered({ deliveryId: ref.deliveryId, attempts: attempt, httpStatus: status });
    metrics.deliveries.inc({ result: 'delivered' });
    span.setAttribute('concord.delivery.result', 'delivered');
    logger.debug({ deliveryId: ref.deliveryId, attempt, status }, 'webhook delivered');
    span.setAttribute('http.response.status_code', status);
  };

  return {
    handler: (job, { attempt, maxAttempts }) =>
      deliverySpan(job, attempt, maxAttempts, (span) => deliver(job, attempt, span)),

    async onDeadLetter(job, { attempts, error }) {
      const ref = job.data;
      const target = await deliveries.target(db, ref.deliveryId);
      if (target === undefined) return;
      const lastStatus = httpStatusOf(error);
      await deliveries.deadLetter(db, {
        deliveryId: ref.deliveryId,
        notificationId: ref.notificationId,
        subscriptionId: ref.subscriptionId,
        url: target.url,
        attempts,
        errorCode: error instanceof ConcordError ? error.code : errorCode(error),
        lastError: messageOf(error),
        ...(lastStatus === undefined ? {} : { lastStatus }),
      });
      metrics.deadLetters.inc();
      metrics.deliveries.inc({ result: 'dead_lettered' });
      logger.warn(
        { deliveryId: ref.deliveryId, url: maskUrl(target.url), attempts, err: error },
        'webhook delivery dead-lettered',
      );
    },

    close: () => batches.close(),
  };
};
