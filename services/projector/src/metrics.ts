import type { ServiceMetrics } from '@concord/service-kit';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

const existing = <M>(registry: Registry, name: string): M | undefined =>
  registry.getSingleMetric(name) as M | undefined;

/** The projector's Prometheus metrics (one set per registry; the all-in-one process shares one). */
export interface ProjectorMetrics {
  /** Upserts per backend and result (`applied`, `stale`). */
  readonly projections: Counter<'backend' | 'result'>;
  /** Messages per topic and result (`projected`, `stale`, `duplicate`, `acknowledged`). */
  readonly messages: Counter<'topic' | 'result'>;
  /** now − committedAt of projected changes. */
  readonly lag: Histogram<'projection'>;
  readonly checkpointVersion: Gauge<'projection' | 'backend'>;
  readonly checkpointTime: Gauge<'projection' | 'backend'>;
  readonly rebuildEvents: Gauge;
  readonly rebuildRunning: Gauge;
  readonly rebuilds: Counter<'result'>;
  /**
   * The `projection` label of an aggregate type: a known type by name, any other `other`. Aggregate
   * types are chosen by whoever submits events, so each new one would add series for good.
   */
  projection(type: string): string;
}

/** The `projection` label of aggregate types that are not known projections. */
export const OTHER_PROJECTION = 'other';

export interface ProjectorMetricsOptions {
  /**
   * Aggregate types that get a `projection` label of their own: those a backend names (not `'*'`) and
   * those configured (`PROJECTOR_METRIC_TYPES`). Every other type is counted as `other`.
   */
  readonly knownTypes?: Iterable<string>;
}

export const createProjectorMetrics = (
  { registry }: Pick<ServiceMetrics, 'registry'>,
  options: ProjectorMetricsOptions = {},
): ProjectorMetrics => {
  const registers = [registry];
  const known = new Set(options.knownTypes);
  return {
    projection: (type) => (known.has(type) ? type : OTHER_PROJECTION),
    projections:
      existing(registry, 'concord_projector_projections_total') ??
      new Counter({
        name: 'concord_projector_projections_total',
        help: 'Version-guarded upserts by backend and result (applied, stale).',
        labelNames: ['backend', 'result'] as const,
        registers,
      }),
    messages:
      existing(registry, 'concord_projector_messages_total') ??
      new Counter({
        name: 'concord_projector_messages_total',
        help: 'Messages handled by topic and result (projected, stale, duplicate, acknowledged).',
        labelNames: ['topic', 'result'] as const,
        registers,
      }),
    lag:
      existing(registry, 'concord_projector_lag_seconds') ??
      new Histogram({
        name: 'concord_projector_lag_seconds',
        help: 'Projection lag: time from the upstream commit to the projection.',
        labelNames: ['projection'] as const,
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    checkpointVersion:
      existing(registry, 'concord_projector_checkpoint_version') ??
      new Gauge({
        name: 'concord_projector_checkpoint_version',
        help: 'Aggregate version of the last change a backend projected, per projection.',
        labelNames: ['projection', 'backend'] as const,
        registers,
      }),
    checkpointTime:
      existing(registry, 'concord_projector_checkpoint_timestamp_seconds') ??
      new Gauge({
        name: 'concord_projector_checkpoint_timestamp_seconds',
        help: 'Upstream commit time of the last change a backend projected, per projection.',
        labelNames: ['projection', 'backend'] as const,
        registers,
      }),
    rebuildEvents:
      existing(registry, 'concord_projector_rebuild_events_processed') ??
      new Gauge({
        name: 'concord_projector_rebuild_events_processed',
        help: 'Events the running (or last) rebuild has replayed.',
        registers,
      }),
    rebuildRunning:
      existing(registry, 'concord_projector_rebuild_running') ??
      new Gauge({ name: 'concord_projector_rebuild_running', help: '1 while a rebuild runs.', registers }),
    rebuilds:
      existing(registry, 'concord_projector_rebuilds_total') ??
      new Counter({
        name: 'concord_projector_rebuilds_total',
        help: 'Rebuilds by result (completed, failed).',
        labelNames: ['result'] as const,
        registers,
      }),
  };
};
