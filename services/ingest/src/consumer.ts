import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import { decodeJson } from '@concord/bus';
import { ConcordError, errorCode, isRetryable } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { Logger } from '@concord/core';
import { isTenantName } from '@concord/core/envelope';
import type { EnvelopeLimits } from '@concord/core/envelope';
import type { Admission } from './admission.js';
import type { Batcher } from './batcher.js';
import type { IntakeJob, JobResult } from './commit.js';
import { parseSubmitMessage } from './cloudevents.js';
import { nothingUsable, scopeItems, unusableMessageError } from './intake.js';
import { ingestErrors } from './errors.js';
import type { IngestMetrics } from './metrics.js';
import { logResults } from './results.js';

export interface SubmitConsumerDeps {
  readonly bus: MessageBus;
  readonly batcher: Batcher<IntakeJob, JobResult>;
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
  readonly limits: Partial<EnvelopeLimits>;
  readonly group: string;
  readonly concurrency: number;
  /**
   * Admission control: while it refuses, each handler holds its message (no attempt counted, nothing
   * dead-lettered), so the broker stops delivering once `concurrency` are held — RabbitMQ at the
   * prefetch, Kafka by pausing the partitions — and delivers the rest once ingest admits again.
   */
  readonly admission?: Admission;
}

/** The header naming the tenant a submit message's events belong to (DESIGN §5 "Tenants"). */
export const TENANT_HEADER = 'concord-tenant';

/**
 * The tenant of a submit message's events: its `concord-tenant` header, absent for the default tenant.
 * The broker is trusted as a whole (whoever may publish to it may write for any tenant); a header that
 * names no tenant dead-letters the message rather than writing its events to the default tenant.
 */
const submitTenant = (message: IncomingMessage): string | undefined => {
  const tenant = message.headers[TENANT_HEADER];
  if (tenant === undefined || tenant === '') return undefined;
  if (!isTenantName(tenant)) {
    throw new ConcordError(ingestErrors.TENANT_INVALID, `the ${TENANT_HEADER} header is not a tenant name`, {
      details: { tenant },
    });
  }
  return tenant;
};

/**
 * Handles one `concord.events.submit` message with the HTTP semantics. Outcomes reach the submitter on
 * `concord.events.outcome` (through the store's outbox messages, and the rejected outcomes the group
 * commit writes for invalid events with a usable id). The message id goes into the inbox in the same
 * transaction, so a redelivery changes nothing. A message with nothing usable (not JSON, no valid event,
 * no usable id) throws a non-retryable error: the bus dead-letters it at once.
 */
export const handleSubmit = async (deps: SubmitConsumerDeps, message: IncomingMessage): Promise<void> => {
  const payload = decodeJson(message.payload);
  const items = scopeItems(
    parseSubmitMessage({ payload, headers: message.headers }, deps.limits),
    submitTenant(message),
  );
  if (nothingUsable(items)) throw unusableMessageError(items);
  const result = await deps.batcher.submit({ items, inboxId: message.id, bytes: message.payload.byteLength });
  if (result.kind === 'failed') throw result.error;
  if (result.kind === 'redelivered') {
    deps.logger.debug({ messageId: message.id }, 'submit message already handled');
    return;
  }
  logResults(deps.logger, result.results, { via: 'submit', messageId: message.id });
  for (const r of result.results) {
    deps.metrics.countOutcome('submit', r.outcome);
    if (r.outcome === 'rejected' && r.id === null) {
      deps.logger.warn({ messageId: message.id, code: r.error?.code }, 'submitted event without a usable id');
    }
  }
};

/** Subscribes the `ingest` group to `concord.events.submit`. */
export const subscribeSubmit = (deps: SubmitConsumerDeps): Promise<Subscription> =>
  deps.bus.subscribe({
    group: deps.group,
    topics: [Topics.submit],
    concurrency: deps.concurrency,
    handler: async (message) => {
      await deps.admission?.whenAdmitting();
      try {
        await handleSubmit(deps, message);
      } catch (error) {
        if (!isRetryable(error)) {
          deps.logger.warn(
            { messageId: message.id, code: errorCode(error), err: error },
            'submit message dead-lettered',
          );
        }
        throw error;
      }
    },
  });
