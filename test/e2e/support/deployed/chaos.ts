import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * Restarts of the shared brokers and Postgres, as the chaos tests do them (packages/bus/test/support/
 * rabbitmq.ts, packages/bus/test/kafka-support.ts, packages/outbox/test/relay.chaos.int.test.ts). The
 * e2e tier runs its files one at a time after every other tier, so no other test file of the run
 * sees these restarts.
 */

const run = promisify(execFile);
const KAFKA_SCRIPT = fileURLToPath(new URL('../../../../infra/kafka.sh', import.meta.url));

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const untilOpen = async (port: number, what: string): Promise<void> => {
  const deadline = Date.now() + 90_000;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come back on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

/** `rabbitmqctl stop_app`, a pause, `start_app` (always), until it serves AMQP again. */
export const restartRabbitMq = async (downMs = 2_000): Promise<void> => {
  await run('rabbitmqctl', ['stop_app'], { timeout: 60_000 });
  try {
    await new Promise((resolve) => setTimeout(resolve, downMs));
  } finally {
    await run('rabbitmqctl', ['start_app'], { timeout: 120_000 });
  }
  await run('rabbitmqctl', ['await_startup'], { timeout: 120_000 });
  await untilOpen(5672, 'RabbitMQ');
};

/** SIGKILLs the loopback broker of infra/kafka.sh and starts it again (it recovers its logs). */
export const restartKafka = async (): Promise<void> => {
  const status = await run('bash', [KAFKA_SCRIPT, 'status']).catch((error: unknown) => ({
    stdout: String(error),
  }));
  if (!status.stdout.includes('kafka: up')) {
    throw new Error(
      `this test restarts the broker of infra/kafka.sh, which is not running (${status.stdout.trim()}); ` +
        'start it with `bash infra/kafka.sh start` and point KAFKA_BROKERS at 127.0.0.1:9092',
    );
  }
  await run('bash', [KAFKA_SCRIPT, 'kill'], { timeout: 60_000 });
  await run('bash', [KAFKA_SCRIPT, 'start'], { timeout: 180_000 });
};

/** `pg_ctlcluster --skip-systemctl-redirect <version> main restart`: every connection is cut. */
export const restartPostgres = async (): Promise<void> => {
  const version = readdirSync('/etc/postgresql')[0] ?? '';
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { timeout: 120_000 });
  await untilOpen(5432, 'Postgres');
};

export const restartBroker = (broker: 'rabbitmq' | 'kafka'): Promise<void> =>
  broker === 'rabbitmq' ? restartRabbitMq() : restartKafka();
