import { createConsumerLagProbe } from '@concord/bus';
import type { ConsumerLagProbe, GroupTopic, TopicDeclaration } from '@concord/bus';
import type { Logger } from '@concord/core';
import { Gauge } from 'prom-client';
import { busConfigFromEnv } from './infrastructure.js';
import type { InfrastructureEnv } from './infrastructure.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceModule } from './service.js';

const NAME = 'concord_consumer_lag';

export interface ConsumerLagModuleDeps {
  /**
   * The broker's lag probe for the groups the service consumes (`createConsumerLagProbe` of
   * `@concord/bus`, closed with the module); none on the in-memory bus, whose groups live in the process.
   */
  readonly probe: ConsumerLagProbe | undefined;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
  /** Pause between samples (each asks the broker once per group and topic). Default 10_000 ms. */
  readonly intervalMs?: number;
}

export interface ConsumerLagModule extends ServiceModule {
  /** Samples the probe now and updates the gauge (the module's timer does this on its own). */
  sample(): Promise<void>;
}

/** The groups of `topology` on the topics they read; only `group`'s when given. */
export const consumersIn = (topology: readonly TopicDeclaration[], group?: string): GroupTopic[] =>
  topology.flatMap((route) =>
    route.groups
      .filter((candidate) => group === undefined || candidate === group)
      .map((candidate) => ({ group: candidate, topic: route.topic })),
  );

/**
 * A standalone service's probe of its own consumer group (named as the service) on the topics it reads
 * in `topology`, on the broker `env` names; none on the in-memory bus.
 */
export const consumerLagProbeFor = (
  env: InfrastructureEnv,
  options: {
    readonly service: string;
    readonly topology: readonly TopicDeclaration[];
    readonly logger: Logger;
  },
): ConsumerLagProbe | undefined =>
  createConsumerLagProbe(busConfigFromEnv(env, options.service, options.logger), {
    prefix: env.CONCORD_TOPIC_PREFIX,
    consumers: consumersIn(options.topology, options.service),
  });

const lagGauge = (registry: ServiceMetrics['registry']): Gauge<'group' | 'topic'> =>
  (registry.getSingleMetric(NAME) as Gauge<'group' | 'topic'> | undefined) ??
  new Gauge({
    name: NAME,
    help: 'Messages of a topic its consumer group has not consumed yet (RabbitMQ queue depth, Kafka group lag), sampled on a timer.',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
  });

/**
 * `concord_consumer_lag{group,topic}` (DESIGN §8): the probe is asked every `intervalMs` and the gauge
 * keeps the last answer, so a scrape never waits for the broker. Groups and topics come from the
 * topology, never from a request: the series are bounded. A failed sample removes the series (a stale
 * lag would look healthy) and is logged; the next one tries again.
 */
export const createConsumerLagModule = (deps: ConsumerLagModuleDeps): ConsumerLagModule => {
  const { probe } = deps;
  const logger = deps.logger.child({ component: 'consumer-lag' });
  const intervalMs = deps.intervalMs ?? 10_000;
  const gauge = lagGauge(deps.metrics.registry);
  const shown = new Map<string, GroupTopic>();
  let stopped = false;
  let failing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;

  const sample = async (): Promise<void> => {
    if (probe === undefined || stopped) return;
    try {
      const lags = await probe.lag();
      for (const { group, topic, messages } of lags) {
        gauge.set({ group, topic }, messages);
        shown.set(`${group}\u0000${topic}`, { group, topic });
      }
      if (failing) logger.info({}, 'consumer lag sampled again');
      failing = false;
    } catch (error) {
      for (const labels of shown.values()) gauge.remove({ ...labels });
      shown.clear();
      if (!failing)
        logger.warn(
          { err: error },
          'consumer lag unavailable; its series are removed until a sample succeeds',
        );
      failing = true;
    }
  };

  const schedule = () => {
    if (stopped || probe === undefined) return;
    timer = setTimeout(() => {
      running = sample().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  let closing: Promise<void> | undefined;
  return {
    name: 'consumer-lag',
    sample,
    start() {
      if (probe === undefined || stopped) return Promise.resolve();
      running = sample().finally(schedule);
      return Promise.resolve();
    },
    close() {
      closing ??= (async () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        await running;
        await probe?.close();
      })();
      return closing;
    },
  };
};
