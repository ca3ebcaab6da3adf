import type { Outcome } from '@concord/core/messages';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Admission, BacklogSample } from './admission.js';
import type { CommitInfo } from './batcher.js';

/** Where an event came in. */
export type IntakeSource = 'http' | 'submit';

export interface IngestMetrics {
  countOutcome(source: IntakeSource, outcome: Outcome): void;
  recordCommit(info: CommitInfo): void;
  /** A request or message refused by admission control. */
  countRefused(source: IntakeSource): void;
  /** The backlog admission control sampled, and whether it admits. */
  recordBacklog(sample: BacklogSample, admitting: boolean): void;
  /** Reports the submit messages held by `admission` on every scrape. */
  watchAdmission(admission: Admission): void;
}

/** Ingest's Prometheus metrics: events by outcome, group-commit sizes and latency. */
export const createIngestMetrics = (registry: Registry): IngestMetrics => {
  const events = new Counter({
    name: 'concord_ingest_events_total',
    help: 'Submitted events by intake source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const batchEvents = new Histogram({
    name: 'concord_ingest_append_batch_events',
    help: 'Events appended per group-commit transaction.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [registry],
  });
  const batchJobs = new Histogram({
    name: 'concord_ingest_append_batch_requests',
    help: 'Requests and submit messages sharing one group-commit transaction.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'concord_ingest_group_commit_seconds',
    help: 'Duration of group-commit transactions, by result.',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const waitSeconds = new Histogram({
    name: 'concord_ingest_group_commit_wait_seconds',
    help: 'Longest queue wait of a request before its group-commit transaction started.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'concord_ingest_refused_total',
    help: 'Requests refused with 429 CONCORD_OVERLOADED by admission control, by intake source.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const admitting = new Gauge({
    name: 'concord_ingest_admitting',
    help: '1 while ingest admits new work, 0 while the pipeline behind it is over its backlog bound.',
    registers: [registry],
  });
  const backlog = new Gauge({
    name: 'concord_ingest_backlog',
    help: 'The backlog admission control last sampled: outbox rows, outbox lag (ms), consumer lag (messages).',
    labelNames: ['signal'] as const,
    registers: [registry],
  });
  const stalled = new Gauge({
    name: 'concord_ingest_stalled_groups',
    help: 'Downstream consumer groups (of a topic) whose lag did not drain while ingest refused: admission does not count them until it falls.',
    registers: [registry],
  });
  let watched: Admission | undefined;
  new Gauge({
    name: 'concord_ingest_submit_held',
    help: 'Submit messages the consumer holds until ingest admits again.',
    registers: [registry],
    collect() {
      this.set(watched?.waiting ?? 0);
    },
  });
  admitting.set(1);
  return {
    countRefused: (source) => refused.labels(source).inc(),
    recordBacklog(sample, admits) {
      admitting.set(admits ? 1 : 0);
      backlog.labels('outbox_rows').set(sample.outboxRows);
      backlog.labels('outbox_lag_ms').set(sample.outboxLagMs);
      if (sample.consumerLag !== undefined) backlog.labels('consumer_lag').set(sample.consumerLag);
      stalled.set(sample.stalledGroups?.length ?? 0);
    },
    watchAdmission(admission) {
      watched = admission;
    },
    countOutcome: (source, outcome) => events.labels(source, outcome).inc(),
    recordCommit(info) {
      commitSeconds.labels(info.error === undefined ? 'ok' : 'error').observe(info.durationMs / 1000);
      waitSeconds.observe(info.waitedMs / 1000);
      if (info.error !== undefined) return;
      batchEvents.observe(info.items);
      batchJobs.observe(info.jobs);
    },
  };
};
