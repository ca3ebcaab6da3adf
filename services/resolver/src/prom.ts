import type { ServiceMetrics } from '@concord/service-kit';

/**
 * Small Prometheus metrics that register on the service's registry through prom-client's collector
 * interface (`registerMetric` of an object with `name` and `get()`), so the service needs no direct
 * dependency on prom-client.
 */
type Labels = Readonly<Record<string, string>>;
type MetricType = 'counter' | 'gauge' | 'histogram';
interface Sample {
  readonly labels: Labels;
  readonly value: number;
  readonly metricName?: string;
}
interface Collector {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  get(): Promise<{ name: string; help: string; type: MetricType; values: Sample[]; aggregator: 'sum' }>;
}

const register = (metrics: ServiceMetrics, collector: Collector): void => {
  metrics.registry.registerMetric(
    collector as unknown as Parameters<ServiceMetrics['registry']['registerMetric']>[0],
  );
};

const keyOf = (labels: Labels): string =>
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((key) => [key, labels[key]]),
  );

const collector = (
  name: string,
  help: string,
  type: MetricType,
  samples: () => Sample[] | Promise<Sample[]>,
): Collector => ({
  name,
  help,
  type,
  get: async () => ({ name, help, type, values: await samples(), aggregator: 'sum' }),
});

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export const counter = (metrics: ServiceMetrics, name: string, help: string): Counter => {
  const values = new Map<string, { labels: Labels; value: number }>();
  register(
    metrics,
    collector(name, help, 'counter', () => [...values.values()].map((v) => ({ ...v }))),
  );
  return {
    inc(labels = {}, by = 1) {
      const key = keyOf(labels);
      const entry = values.get(key);
      if (entry === undefined) values.set(key, { labels, value: by });
      else entry.value += by;
    },
  };
};

/** A gauge (or counter) whose samples are read when /metrics is scraped. */
export const collected = (
  metrics: ServiceMetrics,
  options: {
    name: string;
    help: string;
    type?: 'gauge' | 'counter';
    collect: () => Sample[] | Promise<Sample[]>;
  },
): void => {
  register(metrics, collector(options.name, options.help, options.type ?? 'gauge', options.collect));
};

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export const histogram = (
  metrics: ServiceMetrics,
  options: { name: string; help: string; buckets: readonly number[] },
): Histogram => {
  const buckets = [...options.buckets].sort((a, b) => a - b);
  const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  register(
    metrics,
    collector(options.name, options.help, 'histogram', () =>
      [...series.values()].flatMap((s) => [
        ...buckets.map((le, i) => ({
          labels: { ...s.labels, le: String(le) },
          value: s.counts[i] ?? 0,
          metricName: `${options.name}_bucket`,
        })),
        { labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${options.name}_bucket` },
        { labels: s.labels, value: s.sum, metricName: `${options.name}_sum` },
        { labels: s.labels, value: s.count, metricName: `${options.name}_count` },
      ]),
    ),
  );
  return {
    observe(labels, value) {
      const key = keyOf(labels);
      let s = series.get(key);
      if (s === undefined) {
        s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        series.set(key, s);
      }
      buckets.forEach((le, i) => {
        if (value <= le && s !== undefined) s.counts[i] = (s.counts[i] ?? 0) + 1;
      });
      s.sum += value;
      s.count += 1;
    },
  };
};
