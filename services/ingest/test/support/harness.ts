import type { ConsumerLagProbe, IncomingMessage, MessageBus } from '@concord/bus';
import { createMemoryBus, encodeJson } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { EventEnvelope } from '@concord/core/envelope';
import type { PhysicalClock } from '@concord/core/versions';
import type { Database, EventStore, Relay } from '@concord/outbox';
import { baseMigrations, createRelay } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createHttpServer, createMetrics } from '@concord/service-kit';
import type { HttpServer } from '@concord/service-kit';
import type { ServiceModule } from '@concord/service-kit';
import { createIngestModule } from '../../src/index.js';
import type { EventResult, IngestOptions } from '../../src/index.js';

/** The shared test helpers (one definition, in `@concord/bus/testing`). */
import { delay, unique, waitFor } from '@concord/bus/testing';

export { delay, unique, waitFor };

export const event = (partial: Partial<EventEnvelope> & { aggregateId: string }): EventEnvelope => ({
  id: `e-${unique()}`,
  type: 'TaskUpdated',
  aggregateType: 'task',
  data: { title: 'x' },
  ...partial,
});

/** A JSON response body as the tests read it: the members the API's answers have. */
export interface Body {
  readonly results: (EventResult & { readonly error: { code: string; details?: unknown } })[];
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
  readonly events: { event: EventEnvelope; outcome: string; version: number; cursor: string }[];
  readonly next: string;
  readonly [member: string]: unknown;
}

export interface Ingest {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly http: HttpServer;
  readonly module: ServiceModule;
  readonly metrics: ReturnType<typeof createMetrics>;
  /** POST /v1/events through Fastify's inject. */
  post(body: unknown): Promise<{ status: number; body: Body }>;
  get(url: string): Promise<{ status: number; body: Body }>;
  /** Starts a relay publishing the outbox through the bus. */
  startRelay(): Relay;
  /** Publishes a submit message; returns its message id. The key defaults to the message id. */
  submit(payload: unknown, options?: { id?: string; key?: string }): Promise<string>;
  /** Records every message of a topic from now on. */
  collect(topic: string): Promise<IncomingMessage[]>;
  close(): Promise<void>;
}

export interface IngestHarnessOptions {
  readonly options?: IngestOptions;
  readonly store?: EventStore;
  readonly consumerLag?: ConsumerLagProbe;
  /** The physical clock ingest's HLC reads. */
  readonly clock?: PhysicalClock;
}

/**
 * A migrated database of its own (closed by the caller) for one test file, with the outbox's and the event
 * store's tables only: ingest owns none, and applies those two sets at start.
 */
export const openDatabase = (adminUrl: string): Promise<TestDatabase> =>
  createTestDatabase({ adminUrl, max: 20, sets: baseMigrations });

/** The ingest module on `db`, a memory bus, and an HTTP server driven through `inject`. */
export const startIngest = async (db: Database, harness: IngestHarnessOptions = {}): Promise<Ingest> => {
  const bus = createMemoryBus({ drainTimeoutMs: 2_000 });
  const metrics = createMetrics('ingest');
  const module = createIngestModule({
    db,
    bus,
    logger: silentLogger,
    registry: metrics.registry,
    ...(harness.store === undefined ? {} : { store: harness.store }),
    ...(harness.consumerLag === undefined ? {} : { consumerLag: harness.consumerLag }),
    ...(harness.clock === undefined ? {} : { clock: harness.clock }),
    options: { ...harness.options },
  });
  const http = createHttpServer({ logger: silentLogger, metrics, checks: [], bodyLimit: 64 * 1024 * 1024 });
  await module.routes?.(http.app);
  await http.app.ready();
  await module.start();
  const relays: Relay[] = [];
  const subscriptions: { close(): Promise<void> }[] = [];
  const reply = (response: { statusCode: number; body: string }) => ({
    status: response.statusCode,
    body: (response.body === '' ? {} : JSON.parse(response.body)) as Body,
  });
  return {
    db,
    bus,
    http,
    module,
    metrics,
    post: async (body) =>
      reply(
        await http.app.inject({
          method: 'POST',
          url: '/v1/events',
          headers: { 'content-type': 'application/json' },
          payload: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    get: async (url) => reply(await http.app.inject({ method: 'GET', url })),
    startRelay() {
      const relay = createRelay({ db, bus, pollIntervalMs: 50, owner: `test-${unique()}` });
      relay.start();
      relays.push(relay);
      return relay;
    },
    async submit(payload, options = {}) {
      const id = options.id ?? `m-${unique()}`;
      await bus.publish('concord.events.submit', [
        { id, key: options.key ?? id, payload: encodeJson(payload) },
      ]);
      return id;
    },
    async collect(topic) {
      const received: IncomingMessage[] = [];
      subscriptions.push(
        await bus.subscribe({
          group: `collector-${unique()}`,
          topics: [topic],
          handler: (message) => {
            received.push(message);
            return Promise.resolve();
          },
        }),
      );
      return received;
    },
    async close() {
      await module.close();
      for (const relay of relays) await relay.close();
      for (const subscription of subscriptions) await subscription.close();
      await http.close();
      await bus.close();
    },
  };
};
