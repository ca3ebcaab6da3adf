import type { Outcome } from '@concord/core';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CommitInfo } from './batcher.js';

/** Where an event came in. */
export type IntakeSource = 'http' | 'submit';

export interface IngestMetrics {
  countOutcome(source: IntakeSource, outcome: Outcome): void;
  recordCommit(info: CommitInfo): void;
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
  return {
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
