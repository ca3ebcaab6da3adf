/**
 * `pnpm bench:notifier`: webhook delivery throughput of the notifier module on real Postgres
 * (DATABASE_URL) and BullMQ on real Redis (REDIS_URL), delivering to a loopback receiver that answers 204.
 *
 *   pnpm bench:notifier -- [--messages 5000] [--subscriptions 3] [--concurrency <n>] [--rate 0]
 *                          [--runs 3] [--pool 10] [--queue bullmq|memory] [--hog 0]
 *
 * Each run gets a fresh database and Redis prefix, makes `--subscriptions` subscriptions that all match,
 * then publishes `--messages` applied messages on the in-memory bus (`--rate` per second, open loop; 0:
 * all at once) and waits until every delivery is recorded `delivered`. `deliveredPerSec` is deliveries
 * over the time from the first publish until then; `p50Ms`/`p99Ms` are from a message's publish to the
 * first arrival of each of its webhooks at the receiver. `--concurrency` is the job queue's (default: the
 * notifier's own default); `--pool` the Postgres pool (the service's default, 10); `--hog n` keeps n
 * processes spinning on the CPU during each run, as on a loaded machine. One JSON line per
 * run, and the summary (medians, min and max) also written to bench-results/notifier.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { baseMigrations } from '@concord/outbox';
import type { Database, Tx } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import { Redis } from 'ioredis';
import { notifierMigrations } from '../src/migrations.js';
import { createBullMqJobQueue } from '../src/queue/bullmq.js';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { JobQueue } from '../src/queue/port.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { startNotifier } from '../test/support/harness.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    messages: { type: 'string', default: '5000' },
    subscriptions: { type: 'string', default: '3' },
    concurrency: { type: 'string' },
    rate: { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
    pool: { type: 'string', default: '10' },
    queue: { type: 'string', default: 'bullmq' },
    batch: { type: 'string', default: '100' },
    hog: { type: 'string', default: '0' },
  },
});
const messages = Number(values.messages);
const subscriptionCount = Number(values.subscriptions);
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
const rate = Number(values.rate);
const runs = Math.max(1, Number(values.runs));
const pool = Number(values.pool);
const publishBatch = Number(values.batch);
const hogs = Number(values.hog);
const queueKind = values.queue;
if (queueKind !== 'bullmq' && queueKind !== 'memory') throw new Error('--queue must be bullmq or memory');

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set (see infra/local.env)`);
  return value;
};
const adminUrl = env('DATABASE_URL');
const redisUrl = env('REDIS_URL');

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers 204 to every POST and notes when each webhook-id first arrived, and for which event. */
const startReceiver = async () => {
  const firstArrival = new Map<string, { readonly at: number; readonly eventId: string }>();
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = performance.now();
      requests += 1;
      const id = String(request.headers['webhook-id']);
      if (!firstArrival.has(id)) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { eventId?: string };
        firstArrival.set(id, { at, eventId: body.eventId ?? '' });
      }
      response.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    firstArrival,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

const clearPrefix = async (redis: Redis, prefix: string) => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
};

/**
 * The database with its round trips counted: each statement, and a transaction's BEGIN and COMMIT. By
 * the statement's first words, so a run says which statements the deliveries cost.
 */
const countingDatabase = (db: Database) => {
  const counts = new Map<string, number>();
  const millis = new Map<string, number>();
  const keyOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 60);
  const note = (text: string) => {
    const key = keyOf(text);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  /** Runs a statement, adding its time (pool wait included) to its key's. */
  const timed = async <R>(text: string, run: () => Promise<R>): Promise<R> => {
    note(text);
    const begin = performance.now();
    try {
      return await run();
    } finally {
      const key = keyOf(text);
      millis.set(key, (millis.get(key) ?? 0) + performance.now() - begin);
    }
  };
  const countingTx = (tx: Tx): Tx =>
    new Proxy(tx, {
      get(target, property, receiver) {
        if (property === 'query')
          return (text: string, params?: unknown[]) => timed(text, () => target.query(text, params));
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
  const counted: Database = new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'query')
        return (text: string, params?: unknown[]) => timed(text, () => target.query(text, params));
      if (property === 'withTransaction')
        return <T>(fn: (tx: Tx) => Promise<T>) => {
          note('BEGIN');
          note('COMMIT');
          return target.withTransaction((tx) => fn(countingTx(tx)));
        };
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return { db: counted, counts, millis, total: () => [...counts.values()].reduce((a, b) => a + b, 0) };
};

/**
 * Redis commands this process sends, by name (BullMQ's scripts as `evalsha`): every ioredis client's,
 * the worker's blocking connection (a duplicate) included.
 */
const redisCommands = new Map<string, number>();
type SendCommand = (
  this: Redis,
  ...args: Parameters<Redis['sendCommand']>
) => ReturnType<Redis['sendCommand']>;
const sendCommand: SendCommand = Object.getOwnPropertyDescriptor(Redis.prototype, 'sendCommand')?.value;
Redis.prototype.sendCommand = function (this: Redis, ...args) {
  const name = (args[0] as { name: string }).name;
  redisCommands.set(name, (redisCommands.get(name) ?? 0) + 1);
  return sendCommand.apply(this, args);
};
const redisTotal = () => [...redisCommands.values()].reduce((a, b) => a + b, 0);

interface RunResult {
  readonly deliveredPerSec: number;
  readonly seconds: number;
  readonly deliveries: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly publishSeconds: number;
  /** CPU time of this process (notifier, bus and receiver) per delivery. */
  readonly cpuMsPerDelivery: number;
  /** Postgres statements (BEGIN and COMMIT included) per delivery (not the bench's own polling). */
  readonly pgRoundTripsPerDelivery: number;
  /** Redis commands this process sent per delivery. */
  readonly redisCommandsPerDelivery: number;
  /** Mean time of a job's handler (the delivery attempt: its statements and the webhook request). */
  readonly handlerMeanMs: number;
  /** The statements run at least once per 20 deliveries, by their first words: how often, mean time. */
  readonly statements: Record<string, { readonly n: number; readonly meanMs: number }>;
}

const runOnce = async (run: number): Promise<RunResult> => {
  const database = await createTestDatabase({
    adminUrl,
    max: pool,
    sets: [...baseMigrations, notifierMigrations],
  });
  const receiver = await startReceiver();
  const prefix = `concord-bench-${Date.now().toString(36)}-${run}`;
  const queueRedis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const workerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  while (queueRedis.status !== 'ready') await sleep(10);
  const retry = { maxAttempts: 8, initialDelayMs: 1_000, maxDelayMs: 600_000 };
  const queue: JobQueue<DeliveryRef> =
    queueKind === 'bullmq'
      ? createBullMqJobQueue<DeliveryRef>({
          connection: queueRedis,
          workerConnection: workerRedis,
          queueName: 'webhooks',
          prefix,
          retry,
          ...(concurrency === undefined ? {} : { concurrency }),
        })
      : createMemoryJobQueue<DeliveryRef>({ retry, ...(concurrency === undefined ? {} : { concurrency }) });
  // The service's own polling intervals: the dispatcher is woken by the consumer's commits.
  let handlerMs = 0;
  let handlerRuns = 0;
  const jobQueue: JobQueue<DeliveryRef> = {
    ...queue,
    start: (handlers) =>
      queue.start({
        ...handlers,
        async handler(job, attempt) {
          const begin = performance.now();
          try {
            await handlers.handler(job, attempt);
          } finally {
            handlerMs += performance.now() - begin;
            handlerRuns += 1;
          }
        },
      }),
  };
  const counting = countingDatabase(database.db);
  const harness = await startNotifier({
    db: counting.db,
    schema: database.schema,
    jobQueue,
    settings: { dispatchPollMs: 1_000, feedPollMs: 500 },
  });
  try {
    for (let i = 0; i < subscriptionCount; i += 1) {
      const created = await harness.subscribe({
        url: `${receiver.url}/hook-${i}`,
        secret: `bench-secret-${i}`,
      });
      if (created.status !== 201) throw new Error(`subscription refused: ${JSON.stringify(created.json)}`);
    }
    const expected = messages * subscriptionCount;
    const cpuBefore = process.cpuUsage();
    counting.counts.clear();
    counting.millis.clear();
    const redisBefore = redisTotal();
    const publishedAt = new Map<string, number>();
    const start = performance.now();
    for (let sent = 0; sent < messages;) {
      if (rate > 0) {
        const due = Math.min(messages, Math.floor(((performance.now() - start) / 1000) * rate));
        if (due <= sent) {
          await sleep(5);
          continue;
        }
      }
      const count = Math.min(publishBatch, messages - sent);
      const at = performance.now();
      await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const eventId = `e${run}-${sent + i}`;
          publishedAt.set(eventId, at);
          return harness.publishApplied(eventId, { aggregateId: `task-${(sent + i) % 500}` });
        }),
      );
      sent += count;
    }
    const publishSeconds = (performance.now() - start) / 1000;
    const table = `"${database.schema}".notifier_deliveries`;
    let delivered = 0;
    for (;;) {
      const { rows } = await database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} WHERE status = 'delivered'`,
      );
      delivered = rows[0]?.n ?? 0;
      if (delivered >= expected) break;
      if (performance.now() - start > 600_000) throw new Error(`only ${delivered} of ${expected} delivered`);
      await sleep(20);
    }
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgRoundTrips = counting.total();
    const redisRoundTrips = redisTotal() - redisBefore;
    const latencies = [...receiver.firstArrival.values()]
      .map(({ at, eventId }) => at - (publishedAt.get(eventId) ?? at))
      .sort((a, b) => a - b);
    return {
      deliveredPerSec: round(delivered / seconds),
      seconds: round(seconds, 2),
      deliveries: delivered,
      requests: receiver.requests(),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies.at(-1) ?? 0),
      publishSeconds: round(publishSeconds, 2),
      cpuMsPerDelivery: round((cpu.user + cpu.system) / 1000 / delivered, 3),
      pgRoundTripsPerDelivery: round(pgRoundTrips / delivered, 2),
      redisCommandsPerDelivery: round(redisRoundTrips / delivered, 2),
      handlerMeanMs: round(handlerMs / Math.max(1, handlerRuns), 2),
      statements: Object.fromEntries(
        [...counting.counts]
          .filter(([, n]) => n >= delivered / 20)
          .sort(([, a], [, b]) => b - a)
          .map(([key, n]) => [key, { n, meanMs: round((counting.millis.get(key) ?? 0) / n, 2) }]),
      ),
    };
  } finally {
    await harness.shutdown();
    await clearPrefix(queueRedis, prefix);
    await queueRedis.quit();
    await workerRedis.quit();
    await receiver.close();
    await database.close();
  }
};

/** `--hog n`: n processes spinning on the CPU for the run, as on a machine other work loads. */
const startHogs = (): ChildProcess[] =>
  Array.from({ length: hogs }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));

const results: RunResult[] = [];
for (let run = 0; run < runs; run += 1) {
  const hogProcesses = startHogs();
  let result: RunResult;
  try {
    result = await runOnce(run);
  } finally {
    for (const hog of hogProcesses) hog.kill();
  }
  results.push(result);
  console.log(JSON.stringify({ bench: 'notifier-deliveries-run', run, ...result }));
}
const sortedBy = (pick: (r: RunResult) => number) => results.map(pick).sort((a, b) => a - b);
const median = (pick: (r: RunResult) => number) => percentile(sortedBy(pick), 50);
const rates = sortedBy((r) => r.deliveredPerSec);
const summary = {
  bench: 'notifier-deliveries',
  queue: queueKind,
  messages,
  subscriptions: subscriptionCount,
  deliveries: messages * subscriptionCount,
  concurrency: concurrency ?? 'default',
  offeredPerSec: rate > 0 ? rate : 'burst',
  pool,
  hogs,
  deliveredPerSec: median((r) => r.deliveredPerSec),
  min: rates[0],
  max: rates.at(-1),
  p50Ms: median((r) => r.p50Ms),
  p99Ms: median((r) => r.p99Ms),
  runs: results,
};
console.log(JSON.stringify(summary));
const dir = new URL('../../../bench-results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('notifier.json', dir), `${JSON.stringify(summary, null, 2)}\n`);
