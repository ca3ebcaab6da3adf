/**
 * Vitest global setup for integration and end-to-end tiers. Every dependency is found through its
 * environment variable (defaults for loopback come from infra/local.env). When one is unreachable and
 * a Docker engine is present, testcontainers starts it; otherwise the run fails and says what to start.
 * It never skips silently. Tests read the addresses with `inject('DATABASE_URL')` and so on.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import type { TestProject } from 'vitest/node';

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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<unknown>)[] = [];
  const missing: string[] = [];
  for (const dependency of dependencies) {
    const value = process.env[dependency.env];
    if (value !== undefined && value !== '') {
      const { host, port } = hostPort(dependency, value);
      if (await reachable(host, port)) {
        project.provide(dependency.env, value);
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
  return async () => {
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
