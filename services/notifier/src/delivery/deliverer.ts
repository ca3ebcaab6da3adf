import { ConcordError, errorCode, isConcordError, silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import { NotifierErrorCode, notifierError } from '../errors.js';
import type { NotifierMetrics } from '../metrics.js';
import { DelayJobError } from '../queue/port.js';
import type { JobWorkerOptions } from '../queue/port.js';
import { WebhookHeaders, signBody } from '../signature.js';
import type { DeliveryRef, DeliveryStore } from '../store/deliveries.js';
import type { NotificationLog } from '../store/log.js';
import { CircuitOpenError } from './breakers.js';
import type { CircuitBreakers } from './breakers.js';
import type { WebhookSender } from './http-sender.js';

export interface DelivererOptions {
  readonly db: Database;
  readonly log: NotificationLog;
  readonly deliveries: DeliveryStore;
  readonly breakers: CircuitBreakers;
  readonly send: WebhookSender;
  readonly metrics: NotifierMetrics;
  readonly logger?: Logger;
  readonly timeoutMs: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

const httpStatusOf = (error: unknown): number | undefined => {
  if (!isConcordError(error)) return undefined;
  const details = error.details as { status?: unknown } | undefined;
  return typeof details?.status === 'number' ? details.status : undefined;
};

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The job handler of webhook deliveries: loads the delivery's subscription (url, secret) and
 * notification from Postgres, POSTs the signed body through the endpoint's circuit breaker, and records
 * the result. An open circuit delays the job without using an attempt. A deleted subscription cancels it.
 */
export const createDeliverer = (options: DelivererOptions): JobWorkerOptions<DeliveryRef> => {
  const { db, deliveries, metrics } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'deliverer' });
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;

  return {
    async handler(job, { attempt }) {
      const ref = job.data;
      const target = await deliveries.target(db, ref.deliveryId);
      if (target === undefined || target.status === 'delivered' || target.status === 'dead') {
        metrics.deliveries.inc({ result: 'cancelled' });
        return;
      }
      const notification = await options.log.get(db, ref.notificationId);
      if (notification === undefined) {
        metrics.deliveries.inc({ result: 'cancelled' });
        return;
      }
      const body = JSON.stringify(notification);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'concord-notifier',
        [WebhookHeaders.signature]: signBody(body, target.secret),
        [WebhookHeaders.deliveryId]: ref.deliveryId,
        [WebhookHeaders.event]: notification.kind,
        [WebhookHeaders.timestamp]: String(Math.floor(now() / 1000)),
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
            throw notifierError(
              NotifierErrorCode.deliveryFailed,
              `webhook request failed: ${messageOf(error)}`,
              {
                retryable: true,
                cause: error,
              },
            );
          }
          if (response.status < 200 || response.status >= 300) {
            throw notifierError(NotifierErrorCode.deliveryFailed, `webhook answered ${response.status}`, {
              retryable: true,
              details: { status: response.status },
            });
          }
          return response.status;
        });
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          metrics.deliveries.inc({ result: 'circuit_open' });
          // Spread the trial requests a little so a reopened endpoint is not hit by every job at once.
          throw new DelayJobError(
            Math.max(100, error.retryInMs) + Math.round(random() * 1_000),
            error.message,
          );
        }
        metrics.deliveries.inc({ result: 'failed' });
        try {
          await deliveries.recordFailure(db, ref.deliveryId, attempt, messageOf(error), httpStatusOf(error));
        } catch (recordError) {
          logger.warn({ err: recordError, deliveryId: ref.deliveryId }, 'recording a failed attempt failed');
        }
        throw error;
      }
      await deliveries.markDelivered(db, ref.deliveryId, attempt, status);
      metrics.deliveries.inc({ result: 'delivered' });
    },

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
        { deliveryId: ref.deliveryId, url: target.url, attempts, err: error },
        'webhook delivery dead-lettered',
      );
    },
  };
};
