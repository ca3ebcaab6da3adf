import type { ConsumerLagProbe, MessageBus, Subscription } from '@concord/bus';
import { randomBytes } from 'node:crypto';
import { DEFAULT_ENVELOPE_LIMITS } from '@concord/core/envelope';
import { DEFAULT_MAX_CLOCK_SKEW_MS, HlcClock, acceptEvent } from '@concord/core/versions';
import type { Logger } from '@concord/core';
import type { EnvelopeLimits } from '@concord/core/envelope';
import type { PhysicalClock } from '@concord/core/versions';
import { createEventStore, createInbox, createOutbox, createRejectionStore } from '@concord/outbox';
import type { Database, EventStore } from '@concord/outbox';
import type { ServiceModule } from '@concord/service-kit';
import type { Registry } from 'prom-client';
import { Admission } from './admission.js';
import type { AdmissionLimits } from './admission.js';
import { backlogSource } from './backlog.js';
import { createBatcher } from './batcher.js';
import { createGroupCommit } from './commit.js';
import type { IntakeJob, JobResult } from './commit.js';
import { DEFAULT_GROUP_COMMIT_BYTES, DEFAULT_MAX_BODY_BYTES } from './config.js';
import { subscribeSubmit } from './consumer.js';
import { createIngestMetrics } from './metrics.js';
import { registerRoutes } from './routes.js';

export interface GroupCommitOptions {
  /** Most events one transaction appends (a larger request still commits alone). Default 1000. */
  readonly maxEvents?: number;
  /** Most bytes (bodies, payloads) one transaction takes (a larger job commits alone). Default 8 MiB. */
  readonly maxBytes?: number;
  /** How long the first queued request waits for company. Default 2 ms. */
  readonly lingerMs?: number;
  /** Transactions in flight at once. Default 4. */
  readonly maxInFlight?: number;
}

export interface IngestOptions {
  /** Event and batch limits (DESIGN §2); defaults `DEFAULT_ENVELOPE_LIMITS`. */
  readonly limits?: Partial<EnvelopeLimits>;
  /** Largest `POST /v1/events` body in bytes (413 above). Default 4 MiB (`DEFAULT_MAX_BODY_BYTES`). */
  readonly bodyLimit?: number;
  readonly groupCommit?: GroupCommitOptions;
  /** Consume `concord.events.submit`. Default true. */
  readonly consumeSubmit?: boolean;
  /** Submit messages handled at once. Default 64. */
  readonly submitConcurrency?: number;
  /** Consumer group and inbox consumer name. Default `ingest`. */
  readonly group?: string;
  /**
   * Admission control (DESIGN §7), `false` for none. Defaults: 2,000 outbox rows, no outbox lag bound,
   * 1,000 messages of consumer lag (of groups whose lag falls within 30 s while ingest refuses), sampled
   * every 250 ms, `Retry-After: 1`.
   */
  readonly admission?: Partial<AdmissionLimits> | false;
  /**
   * How far (ms) an event's own `hlc` may be ahead of ingest's clock; further ahead it is rejected with
   * `CONCORD_EVENT_CLOCK_AHEAD` (DESIGN §6). Default 5 minutes.
   */
  readonly maxClockSkewMs?: number;
  /** Node id of this process's HLC (the last part of every `serverHlc`). Default `ingest-<random hex>`. */
  readonly hlcNode?: string;
}

export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxOutboxRows: 2_000,
  maxOutboxLagMs: 0,
  maxConsumerLag: 1_000,
  sampleIntervalMs: 250,
  retryAfterSeconds: 1,
  stallMs: 30_000,
};

export interface IngestDeps {
  readonly db: Database;
  /** The physical clock ingest's HLC reads. Default `Date.now`. */
  readonly clock?: PhysicalClock;
  /** The bus the submit consumer reads from (already namespaced, if a prefix is configured). */
  readonly bus: MessageBus;
  readonly logger: Logger;
  /** Prometheus registry for ingest's metrics (service-kit's `metrics.registry`). */
  readonly registry: Registry;
  /** Postgres schema of store, outbox and inbox. Default `concord`. */
  readonly schema?: string;
  /** Event store; default one in `schema` with the default outbox messages (DESIGN §4). */
  readonly store?: EventStore;
  /**
   * The lag of the consumer groups downstream of ingest, for admission control (`createConsumerLagProbe`
   * of `@concord/bus`); closed with the module. None: admission looks at the outbox alone.
   */
  readonly consumerLag?: ConsumerLagProbe;
  readonly options?: IngestOptions;
}

/**
 * The ingest service (DESIGN §5, §7): `POST /v1/events`, `GET /v1/events/:id`, the pull feed, and the
 * `concord.events.submit` consumer, all committing through one group-commit batcher.
 */
export const createIngestModule = (deps: IngestDeps): ServiceModule => {
  const options = deps.options ?? {};
  const schema = deps.schema ?? 'concord';
  const logger = deps.logger.child({ module: 'ingest' });
  const limits: Partial<EnvelopeLimits> = { ...DEFAULT_ENVELOPE_LIMITS, ...options.limits };
  const group = options.group ?? 'ingest';
  // One HLC per process stamps every accepted event (DESIGN §6); stamps of several instances order by
  // wall time, then logical counter, then node id.
  const hlc = new HlcClock({
    node: options.hlcNode ?? `ingest-${randomBytes(4).toString('hex')}`,
    clock: deps.clock ?? { now: () => Date.now() },
  });
  const maxClockSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const store =
    deps.store ??
    createEventStore({ schema, accept: (event) => acceptEvent(event, { clock: hlc, maxClockSkewMs }) });
  const metrics = createIngestMetrics(deps.registry);
  const commit = createGroupCommit({
    db: deps.db,
    store,
    inbox: createInbox({ schema }),
    outbox: createOutbox({ schema }),
    rejections: createRejectionStore({ schema }),
    consumer: group,
  });
  const batcher = createBatcher<IntakeJob, JobResult>({
    maxItems: options.groupCommit?.maxEvents ?? 1000,
    lingerMs: options.groupCommit?.lingerMs ?? 2,
    maxInFlight: options.groupCommit?.maxInFlight ?? 4,
    size: (job) => job.items.length,
    maxBytes: options.groupCommit?.maxBytes ?? DEFAULT_GROUP_COMMIT_BYTES,
    bytes: (job) => job.bytes ?? 0,
    commit,
    spanName: 'ingest commit',
    onCommit: (info) => {
      metrics.recordCommit(info);
      if (info.error !== undefined) {
        logger.error({ err: info.error, jobs: info.jobs, events: info.items }, 'group commit failed');
      }
    },
  });

  let subscription: Subscription | undefined;
  const consumerLag = deps.consumerLag;
  const admission =
    options.admission === false
      ? undefined
      : new Admission({
          sample: backlogSource({
            db: deps.db,
            schema,
            ...(consumerLag === undefined ? {} : { consumerLag }),
          }),
          limits: { ...DEFAULT_ADMISSION, ...options.admission },
          logger,
          onSample: (sample, admitting) => metrics.recordBacklog(sample, admitting),
        });
  if (admission !== undefined) metrics.watchAdmission(admission);

  let started = false;
  let closing: Promise<void> | undefined;
  return {
    name: 'ingest',
    // Not ready until the submit consumer has joined its group (Kafka takes seconds), nor once closing.
    checks: [{ name: 'ingest', isReady: () => started && closing === undefined }],
    routes: (app) =>
      registerRoutes(app, {
        db: deps.db,
        store,
        batcher,
        metrics,
        limits,
        bodyLimit: options.bodyLimit ?? DEFAULT_MAX_BODY_BYTES,
        logger,
        ...(admission === undefined ? {} : { admission }),
      }),
    async start() {
      await admission?.start();
      if (options.consumeSubmit !== false && subscription === undefined) {
        subscription = await subscribeSubmit({
          bus: deps.bus,
          batcher,
          metrics,
          logger,
          limits,
          group,
          concurrency: options.submitConcurrency ?? 64,
          ...(admission === undefined ? {} : { admission }),
        });
      }
      started = true;
    },
    close() {
      closing ??= (async () => {
        // The held submit messages go through while the consumer drains (they were delivered already).
        await Promise.all([subscription?.close(), admission?.close()]);
        await consumerLag?.close();
        await batcher.close();
      })();
      return closing;
    },
  };
};
