import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { freePort } from '../processes.js';
import type { Dependencies } from '../stack.js';
import { SERVICES } from './build.js';
import type { Deployed, Service } from './build.js';
import { DeployedInstance } from './instance.js';

export type Broker = 'rabbitmq' | 'kafka';

/**
 * One deployment of the four services on a shared broker and Postgres: a database of its own, a schema,
 * topic prefix, exchange and Redis prefixes named after its run (`e2e-<run>`, which the broker clean-up
 * of test/support/broker-leftovers.ts knows), and `instances` of each service, started by the test.
 */
export class Deployment {
  readonly run = randomUUID().slice(0, 8);
  readonly instances = new Map<string, DeployedInstance>();

  private constructor(
    readonly broker: Broker,
    readonly database: TestDatabase,
  ) {}

  static async create(options: {
    readonly broker: Broker;
    readonly deps: Dependencies;
    readonly deployed: Deployed;
    readonly instances: number;
    /** What the logs of this deployment are called: `deployed-<label>-<broker>-<run>-<instance>.log`. */
    readonly label: string;
    readonly logLevel?: string;
  }): Promise<Deployment> {
    const database = await createTestDatabase({
      adminUrl: options.deps.DATABASE_URL,
      max: 1,
      migrate: false,
    });
    const deployment = new Deployment(options.broker, database);
    const { run } = deployment;
    const common: Record<string, string> = {
      DATABASE_URL: database.url ?? '',
      DATABASE_SCHEMA: `deployed_${run}`,
      DATABASE_POOL_SIZE: '5',
      LOG_LEVEL: options.logLevel ?? 'info',
      SHUTDOWN_GRACE_MS: '5000',
      BROKER: options.broker,
      CONCORD_TOPIC_PREFIX: `e2e-${run}.`,
      ...(options.broker === 'rabbitmq'
        ? { AMQP_URL: options.deps.AMQP_URL, AMQP_EXCHANGE: `concord-e2e-${run}` }
        : { KAFKA_BROKERS: options.deps.KAFKA_BROKERS }),
    };
    // No CONCORD_POLICY: the resolver runs the policy bundled into its deploy directory.
    const own: Record<Service, Record<string, string>> = {
      ingest: {},
      resolver: {},
      projector: {
        REDIS_URL: options.deps.REDIS_URL,
        PROJECTOR_REDIS_TYPES: 'task',
        PROJECTOR_REDIS_KEY_PREFIX: `e2e-${run}:projection:`,
      },
      notifier: {
        REDIS_URL: options.deps.REDIS_URL,
        NOTIFIER_QUEUE_PREFIX: `e2e-${run}`,
        NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
        NOTIFIER_BACKOFF_INITIAL_MS: '100',
        NOTIFIER_BACKOFF_MAX_MS: '1000',
        NOTIFIER_FEED_POLL_MS: '100',
      },
    };
    for (const service of SERVICES) {
      for (let i = 1; i <= options.instances; i += 1) {
        const name = `${service}-${i}`;
        deployment.instances.set(
          name,
          new DeployedInstance({
            name,
            dir: options.deployed.dirs[service],
            port: await freePort(),
            env: { ...common, ...own[service] },
            logPrefix: `deployed-${options.label}-${options.broker}-${run}`,
          }),
        );
      }
    }
    return deployment;
  }

  instance(name: string): DeployedInstance {
    const instance = this.instances.get(name);
    if (instance === undefined) throw new Error(`no instance ${name}`);
    return instance;
  }

  /** Every instance of a service (running or not). */
  of(service: Service): DeployedInstance[] {
    return [...this.instances.values()].filter((instance) => instance.name.startsWith(`${service}-`));
  }

  /** Base URLs of the instances of `service` that are ready. */
  urls(service: Service): string[] {
    return this.of(service)
      .filter((instance) => instance.ready)
      .map((instance) => instance.url);
  }

  /** The base URL of a ready instance of `service`, the `n`-th of those ready (round robin). */
  url(service: Service, n = 0): string {
    const ready = this.urls(service);
    const chosen = ready[n % Math.max(ready.length, 1)];
    if (chosen === undefined) throw new Error(`no ${service} instance is ready`);
    return chosen;
  }

  logFiles(): string[] {
    return [...this.instances.values()].map((instance) => instance.logFile);
  }

  /** SIGTERM to every instance; the exit codes of every process each instance ran, by instance. */
  async close(): Promise<Record<string, (number | null)[]>> {
    try {
      await Promise.all([...this.instances.values()].map((instance) => instance.stop()));
    } finally {
      await this.database.close();
    }
    return Object.fromEntries([...this.instances].map(([name, instance]) => [name, instance.exits]));
  }
}
