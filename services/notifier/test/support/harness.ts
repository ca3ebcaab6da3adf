import { createMemoryBus, encodeJson } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { AppliedMessage, OutcomeMessage } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { createMetrics, runService } from '@concord/service-kit';
import type { HttpAccess, RunningService, ServiceMetrics } from '@concord/service-kit';
import { createNotifierModule } from '../../src/module.js';
import type { NotifierModule, NotifierSettings } from '../../src/module.js';
import type { JobQueue } from '../../src/queue/port.js';
import type { DeliveryRef } from '../../src/store/deliveries.js';

/** The shared test helpers (one definition, in `@concord/bus/testing`). */
import { delay, unique, waitFor } from '@concord/bus/testing';

export { delay, unique, waitFor };

export const appliedMessage = (eventId: string, overrides: Partial<AppliedMessage> = {}): AppliedMessage => ({
  kind: 'applied',
  eventId,
  eventType: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-1',
  outcome: 'applied',
  version: 1,
  changes: { title: 'Buy milk' },
  state: { fields: { title: 'Buy milk' }, fieldVersions: {}, vector: {} },
  committedAt: '2030-01-01T00:00:00.000Z',
  ...overrides,
});

export const outcomeMessage = (eventId: string, overrides: Partial<OutcomeMessage> = {}): OutcomeMessage => ({
  kind: 'outcome',
  eventId,
  aggregateType: 'task',
  aggregateId: 'task-1',
  outcome: 'applied',
  final: true,
  version: 1,
  ...overrides,
});

export interface Harness {
  readonly url: string;
  readonly bus: MessageBus;
  readonly module: NotifierModule;
  readonly metrics: ServiceMetrics;
  publishApplied(eventId: string, overrides?: Partial<AppliedMessage>, messageId?: string): Promise<void>;
  publishOutcome(eventId: string, overrides?: Partial<OutcomeMessage>): Promise<void>;
  subscribe(body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  shutdown(): Promise<void>;
}

/** Runs the notifier module on a real HTTP port with an in-memory bus. */
export const startNotifier = async (options: {
  readonly db: Database;
  readonly schema: string;
  readonly jobQueue: JobQueue<DeliveryRef>;
  readonly settings?: Partial<NotifierSettings>;
  /** Who may call the API; default open (authentication off). */
  readonly access?: HttpAccess;
}): Promise<Harness> => {
  const bus = createMemoryBus({ logger: silentLogger });
  const metrics = createMetrics('notifier');
  const module = createNotifierModule({
    db: options.db,
    bus,
    jobQueue: options.jobQueue,
    logger: silentLogger,
    metrics,
    schema: options.schema,
    settings: { allowPrivateUrls: true, feedPollMs: 100, dispatchPollMs: 100, ...options.settings },
  });
  const service: RunningService = await runService({
    service: 'notifier',
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    metrics,
    modules: [module],
    checks: [],
    ...(options.access === undefined ? {} : { access: options.access }),
    clients: [{ name: 'bus', close: () => bus.close() }],
    handleSignals: false,
    exit: () => undefined,
  });
  return {
    url: service.url,
    bus,
    module,
    metrics,
    publishApplied: (eventId, overrides = {}, messageId = `${eventId}:applied`) =>
      bus.publish(Topics.applied, [
        {
          id: messageId,
          key: overrides.aggregateId ?? 'task-1',
          payload: encodeJson(appliedMessage(eventId, overrides)),
        },
      ]),
    publishOutcome: (eventId, overrides = {}) =>
      bus.publish(Topics.outcome, [
        { id: `${eventId}:outcome`, key: eventId, payload: encodeJson(outcomeMessage(eventId, overrides)) },
      ]),
    async subscribe(body) {
      const response = await fetch(`${service.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    },
    shutdown: () => service.shutdown(),
  };
};

/** The value of one sample of a metric in Prometheus text. */
export const metricValue = async (
  metrics: ServiceMetrics,
  name: string,
  labels: Record<string, string> = {},
) => {
  const text = await metrics.registry.metrics();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((part) => line.includes(part))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
};
