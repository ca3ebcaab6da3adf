/**
 * Vitest global setup for integration and end-to-end tiers. Every dependency is found through its
 * environment variable (defaults for loopback come from infra/local.env). When one is unreachable and
 * a Docker engine is present, testcontainers starts it; otherwise the run fails and says what to start.
 * It never skips silently. Tests read the addresses with `inject('DATABASE_URL')` and so on.
 *
 * When the last project of the run tears down, the RabbitMQ and Kafka objects the suite names (its own
 * and those earlier runs left) are deleted, unless another run is using the brokers: see cleanUpBrokers.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import type { TestProject } from 'vitest/node';
import { cleanUpBrokers } from './broker-cleanup.js';
import { TEST_OBJECTS } from './broker-leftovers.js';
import { otherUsers, register } from './broker-users.js';

interface Dependency {
  readonly env: 'DATABASE_URL' | 'AMQP_URL' | 'KAFKA_BROKERS' | 'REDIS_URL';
  readonly image: string;
  readonly port: number;
  readonly containerEnv?: Record<string, string>;
  readonly url: (host: string, port: number) => string;
}

const dependencies: readonly Dependency[] = [
  {
    env: 'DATABASE_URL',
    image: 'postgres:17-alpine',
    port: 5432,
    containerEnv: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
    url: (h, p) => `postgres://postgres@${h}:${p}/postgres`,
  },
  {
    env: 'AMQP_URL',
    image: 'rabbitmq:4-management',
    port: 5672,
    url: (h, p) => `amqp://guest:guest@${h}:${p}`,
  },
  { env: 'REDIS_URL', image: 'redis:7-alpine', port: 6379, url: (h, p) => `redis://${h}:${p}` },
  { env: 'KAFKA_BROKERS', image: 'apache/kafka:3.9.1', port: 9092, url: (h, p) => `${h}:${p}` },
];

const hostPort = (dependency: Dependency, value: string): { host: string; port: number } => {
  const first = value.split(',')[0] ?? value;
  const parsed = first.includes('://') ? new URL(first) : new URL(`tcp://${first}`);
  return { host: parsed.hostname, port: Number(parsed.port || dependency.port) };
};

const reachable = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });

const dockerAvailable = (): boolean => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
};

/**
 * Projects of one run in this process (each calls the global setup; Vitest tears them all down at the
 * end of the run). Kept on globalThis, since each project may load this module anew.
 */
interface RunState {
  projects: number;
  /** Addresses of containers this run started: thrown away afterwards, so never cleaned. */
  readonly containers: Set<string>;
  unregister?: () => void;
}
const RUN = Symbol.for('concord.require-services.run');
const state = globalThis as { [RUN]?: RunState };

const log = (line: string) => console.info(`broker cleanup: ${line}`);

/** Deletes the suite's broker objects on the brokers this run found running (not thrown-away containers). */
const cleanUp = async (found: Partial<Record<Dependency['env'], string>>): Promise<void> => {
  const others = otherUsers();
  if (others.length > 0) {
    log(
      `skipped: another run is using the brokers (pid ${others.join(', ')}); the last one to finish cleans`,
    );
    return;
  }
  await cleanUpBrokers({
    amqpUrl: found.AMQP_URL,
    kafkaBrokers: found.KAFKA_BROKERS,
    select: TEST_OBJECTS,
    log,
  });
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<unknown>)[] = [];
  const missing: string[] = [];
  const found: Partial<Record<Dependency['env'], string>> = {};
  const run = (state[RUN] ??= { projects: 0, containers: new Set() });
  for (const dependency of dependencies) {
    const value = process.env[dependency.env];
    if (value !== undefined && value !== '') {
      const { host, port } = hostPort(dependency, value);
      if (await reachable(host, port)) {
        project.provide(dependency.env, value);
        if (!run.containers.has(value)) found[dependency.env] = value;
        continue;
      }
    }
    if (dockerAvailable()) {
      const { GenericContainer } = await import('testcontainers');
      const container = await new GenericContainer(dependency.image)
        .withEnvironment(dependency.containerEnv ?? {})
        .withExposedPorts(dependency.port)
        .start();
      const url = dependency.url(container.getHost(), container.getMappedPort(dependency.port));
      process.env[dependency.env] = url;
      project.provide(dependency.env, url);
      run.containers.add(url);
      stops.push(() => container.stop());
      continue;
    }
    missing.push(`${dependency.env}=${value ?? '(unset)'}`);
  }
  if (missing.length > 0) {
    throw new Error(
      `Integration tests need these services, which are not reachable: ${missing.join(', ')}.\n` +
        'Start them with `bash infra/deps.sh up` (loopback, no Docker) or ' +
        '`docker compose -f infra/docker-compose.yml up -d`, or point the variables at running servers.',
    );
  }
  run.unregister ??= register().unregister;
  run.projects += 1;
  return async () => {
    run.projects -= 1;
    if (run.projects === 0) {
      delete state[RUN];
      try {
        await cleanUp(found);
      } catch (error) {
        log(`failed: ${String(error)}`);
      } finally {
        run.unregister?.();
      }
    }
    await Promise.all(stops.map((stop) => stop()));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    DATABASE_URL: string;
    AMQP_URL: string;
    KAFKA_BROKERS: string;
    REDIS_URL: string;
  }
}
