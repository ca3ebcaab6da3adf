import type { ServiceMetrics } from '@concord/service-kit';
import type { Logger } from '@concord/core';
import type { PolicySource } from './policy/source.js';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { DecisionObservation } from './types.js';

export interface ResolverMetrics {
  /** Records a committed decision (conflicts by rule, strategy, outcome; latency). */
  decided(observation: DecisionObservation): void;
  policyReload(status: 'ok' | 'failed'): void;
}

export interface ResolverMetricsOptions {
  readonly metrics: ServiceMetrics;
  readonly policy: () => PolicySource | undefined;
  /** Review queue depth and the creation time (ms) of its oldest entry. */
  readonly queue: () => Promise<{ depth: number; oldestMs: number | undefined }>;
  readonly now: () => number;
  readonly logger: Logger;
}

/** The resolver's metrics (DESIGN §8): conflict rate per rule, review queue, policy reloads, latency. */
export const createResolverMetrics = (options: ResolverMetricsOptions): ResolverMetrics => {
  const registers = [options.metrics.registry];
  const conflicts = new Counter({
    name: 'concord_resolver_conflicts_total',
    help: 'Conflict decisions by rule, strategy, outcome and who decided.',
    labelNames: ['rule', 'group', 'strategy', 'outcome', 'decided_by'] as const,
    registers,
  });
  const redecided = new Counter({
    name: 'concord_resolver_redecided_total',
    help: 'Conflicts decided against a state that moved after detection.',
    registers,
  });
  const reloads = new Counter({
    name: 'concord_resolver_policy_reloads_total',
    help: 'Policy reloads by result.',
    labelNames: ['result'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'concord_resolver_decision_latency_seconds',
    help: 'From detection (or the review opening) to the committed decision.',
    labelNames: ['decided_by'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600, 3600, 86_400],
    registers,
  });
  new Gauge({
    name: 'concord_resolver_policy_info',
    help: 'The policy in force (value 1), by name, version and hash.',
    labelNames: ['name', 'version', 'hash'] as const,
    registers,
    collect() {
      this.reset();
      const info = options.policy()?.info();
      if (info !== undefined) this.set({ name: info.name, version: info.version, hash: info.hash }, 1);
    },
  });
  let queue: Promise<{ depth: number; oldestMs: number | undefined } | undefined> | undefined;
  // One query per scrape serves both queue gauges.
  const readQueue = () => {
    queue ??= options
      .queue()
      .catch((error: unknown) => {
        options.logger.warn({ err: error }, 'cannot read the review queue for metrics');
        return undefined;
      })
      .finally(() => {
        setTimeout(() => (queue = undefined), 0).unref();
      });
    return queue;
  };
  new Gauge({
    name: 'concord_resolver_review_queue_depth',
    help: 'Conflicts pending review.',
    registers,
    async collect() {
      const q = await readQueue();
      if (q !== undefined) this.set(q.depth);
    },
  });
  new Gauge({
    name: 'concord_resolver_review_oldest_age_seconds',
    help: 'Age of the oldest conflict pending review (0 when none).',
    registers,
    async collect() {
      const q = await readQueue();
      if (q === undefined) return;
      this.set(q.oldestMs === undefined ? 0 : Math.max(0, options.now() - q.oldestMs) / 1000);
    },
  });
  return {
    decided(o) {
      conflicts.inc({
        rule: o.record.rule ?? '',
        group: o.record.group ?? '',
        strategy: o.record.strategy,
        outcome: o.record.outcome,
        decided_by: o.decidedBy,
      });
      if (o.redecided) redecided.inc();
      if (o.latencyMs !== undefined) latency.observe({ decided_by: o.decidedBy }, o.latencyMs / 1000);
    },
    policyReload(status) {
      reloads.inc({ result: status });
    },
  };
};
