import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBus, encodeJson, namespacedBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { ServiceProcess, freePort } from './processes.js';

export const SCENARIO_POLICY = fileURLToPath(new URL('../fixtures/scenario-policy.yaml', import.meta.url));

export type StackMode = 'rabbitmq' | 'kafka' | 'embedded';

export interface Dependencies {
  readonly DATABASE_URL: string;
  readonly AMQP_URL: string;
  readonly KAFKA_BROKERS: string;
  readonly REDIS_URL: string;
}

/** A consumer service the scenario kills and restarts. */
export type ConsumerService = 'projector' | 'resolver';

/**
 * The running Concord deployment one scenario run talks to: where each HTTP API is, how to submit
 * through the broker intake (when there is a broker), and how to crash and restart a consumer.
 */
export interface Stack {
  readonly mode: StackMode;
  readonly run: string;
  readonly urls: {
    readonly ingest: string;
    readonly resolver: string;
    readonly projector: string;
    readonly notifier: string;
  };
  /** Publishes envelopes to `concord.events.submit`; undefined for the embedded (in-memory) bus. */
  readonly submit:
    | ((
        messages: readonly {
          id: string;
          event: object;
          key: string;
          headers?: Readonly<Record<string, string>>;
        }[],
      ) => Promise<void>)
    | undefined;
  /**
   * Crashes a consumer (SIGKILL) and returns a function that starts it again. Undefined in embedded
   * mode: one process holds every consumer and a volatile in-memory bus.
   */
  readonly crash: ((service: ConsumerService) => Promise<() => Promise<void>>) | undefined;
  /** Each service's log file (JSON lines), by service name. */
  readonly logFiles: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

const brokerEnv = (mode: 'rabbitmq' | 'kafka', deps: Dependencies, run: string): Record<string, string> => ({
  BROKER: mode,
  CONCORD_TOPIC_PREFIX: `e2e-${run}.`,
  ...(mode === 'rabbitmq'
    ? { AMQP_URL: deps.AMQP_URL, AMQP_EXCHANGE: `concord-e2e-${run}` }
    : { KAFKA_BROKERS: deps.KAFKA_BROKERS }),
});

export interface ServicesOptions {
  /** Trace every service (`--import` its instrumentation) and export spans here over OTLP/HTTP JSON. */
  readonly otlpEndpoint?: string;
  /** The services' `LOG_LEVEL`. Default `info`. */
  readonly logLevel?: string;
}

/** What a service needs to export its spans to `endpoint` quickly, for a test to collect. */
const tracingEnv = (endpoint: string): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_TRACES_SAMPLER: 'always_on',
});

/** Four standalone services over a real broker, on a database of their own. */
export const startServices = async (
  mode: 'rabbitmq' | 'kafka',
  deps: Dependencies,
  options: ServicesOptions = {},
): Promise<Stack> => {
  const run = randomUUID().slice(0, 8);
  const database: TestDatabase = await createTestDatabase({ adminUrl: deps.DATABASE_URL, max: 2 });
  const common = {
    DATABASE_URL: database.url ?? '',
    DATABASE_POOL_SIZE: '5',
    CONCORD_POLICY: SCENARIO_POLICY,
    LOG_LEVEL: options.logLevel ?? 'info',
    SHUTDOWN_GRACE_MS: '5000',
    ...brokerEnv(mode, deps, run),
    ...(options.otlpEndpoint === undefined ? {} : tracingEnv(options.otlpEndpoint)),
  };
  const own: Record<string, Record<string, string>> = {
    ingest: {},
    resolver: {},
    projector: {
      REDIS_URL: deps.REDIS_URL,
      PROJECTOR_REDIS_TYPES: 'task,note',
      PROJECTOR_REDIS_KEY_PREFIX: `e2e-${run}:projection:`,
    },
    notifier: {
      REDIS_URL: deps.REDIS_URL,
      NOTIFIER_QUEUE_PREFIX: `e2e-${run}`,
      NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
      NOTIFIER_BACKOFF_INITIAL_MS: '100',
      NOTIFIER_BACKOFF_MAX_MS: '1000',
      NOTIFIER_FEED_POLL_MS: '100',
    },
  };
  const services = new Map<string, ServiceProcess>();
  let bus: MessageBus | undefined;
  try {
    for (const service of ['ingest', 'resolver', 'projector', 'notifier']) {
      services.set(
        service,
        new ServiceProcess({
          service,
          label: `${mode}-${run}-${service}`,
          port: await freePort(),
          env: { ...common, ...own[service] },
          instrument: options.otlpEndpoint !== undefined,
        }),
      );
    }
    await Promise.all([...services.values()].map((s) => s.start()));
    bus = namespacedBus(
      await createBus(
        mode === 'rabbitmq'
          ? { broker: 'rabbitmq', url: deps.AMQP_URL, exchange: `concord-e2e-${run}`, connectionName: 'e2e' }
          : { broker: 'kafka', brokers: deps.KAFKA_BROKERS, clientId: `e2e-${run}` },
      ),
      `e2e-${run}.`,
    );
  } catch (error) {
    await Promise.all([...services.values()].map((s) => s.kill()));
    await database.close();
    throw error;
  }
  const url = (service: string) => services.get(service)?.url ?? '';
  const publisher = bus;
  return {
    mode,
    run,
    urls: {
      ingest: url('ingest'),
      resolver: url('resolver'),
      projector: url('projector'),
      notifier: url('notifier'),
    },
    submit: (messages) =>
      publisher.publish(
        Topics.submit,
        messages.map((m) => ({
          id: m.id,
          key: m.key,
          payload: encodeJson(m.event),
          ...(m.headers === undefined ? {} : { headers: m.headers }),
        })),
      ),
    logFiles: Object.fromEntries([...services].map(([name, service]) => [name, service.logFile])),
    async crash(service: ConsumerService) {
      const process = services.get(service);
      if (process === undefined) throw new Error(`no service ${service}`);
      await process.kill();
      return () => process.start();
    },
    async close() {
      await publisher.close();
      const codes = await Promise.all([...services.values()].map((s) => s.stop()));
      await database.close();
      if (codes.some((code) => code !== 0)) {
        throw new Error(`a service did not exit cleanly on SIGTERM: ${codes.join(', ')}`);
      }
    },
  };
};

/** The all-in-one process in its embedded default: PGlite in a fresh folder, in-memory bus and queue. */
export const startEmbedded = async (options: ServicesOptions = {}): Promise<Stack> => {
  const run = randomUUID().slice(0, 8);
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-e2e-'));
  const process = new ServiceProcess({
    service: 'all-in-one',
    label: `embedded-${run}`,
    port: await freePort(),
    env: {
      CONCORD_DATA_DIR: dataDir,
      CONCORD_POLICY: SCENARIO_POLICY,
      NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
      NOTIFIER_BACKOFF_INITIAL_MS: '100',
      NOTIFIER_BACKOFF_MAX_MS: '1000',
      SHUTDOWN_GRACE_MS: '5000',
      LOG_LEVEL: options.logLevel ?? 'info',
      ...(options.otlpEndpoint === undefined ? {} : tracingEnv(options.otlpEndpoint)),
    },
    instrument: options.otlpEndpoint !== undefined,
  });
  await process.start();
  const { url } = process;
  return {
    mode: 'embedded',
    run,
    urls: { ingest: url, resolver: url, projector: url, notifier: url },
    submit: undefined,
    crash: undefined,
    logFiles: { 'all-in-one': process.logFile },
    async close() {
      const code = await process.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`the all-in-one process exited with ${code} on SIGTERM`);
    },
  };
};
