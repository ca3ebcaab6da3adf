/**
 * End-to-end benchmark (issue: services end to end). Drives a fixed offered load of events through
 * `POST /v1/events` of the running services and measures, per event, the time from the HTTP accept
 * (response received) to the projection reflecting it (the projector's `concord.aggregates.projected`
 * message for that event, read from the broker; in embedded mode, where the bus is inside the
 * process, from the `/v1/stream` Server-Sent Events of the notifier, which adds that hop).
 *
 *   pnpm bench:e2e -- --broker rabbitmq|kafka|embedded [--rate 1000,6000] [--seconds 10] [--batch 10]
 *                     [--trace off|unreachable|<otlp url>] [--hops] [--overload [--capacity n]]
 *                     [--admission on|off] [--soak [--duration 600] [--retention 90] [--sample 15]]
 *
 * `--hops` (brokers only) also reads `concord.events.applied` and reports each hop's p50/p90/p99 — accept
 * to applied (ingest and its relay), applied to projected (projector and its relay) — and the p99 of each
 * second of the run. The extra consumer loads the broker a little.
 *
 * One JSON line per offered rate, also written to bench-results/e2e-<broker>.json (with --trace other
 * than off: e2e-<broker>-traced.json). `lost` counts accepted events that never reached the store (asked
 * `GET /v1/events/:id` once the drain ends); accepted events stored but not projected when the drain
 * ends are `unfinished`. A 429 (admission control) counts its events as `rejected`, not failed.
 *
 * `--overload` (brokers only) runs instead: a short search for the capacity — the highest offered rate
 * (100, 250, 500, 750/s and on, 6 s each) whose p99 is at most 2 s, whose p99 does not grow across the
 * run (last third ≤ 1.5 × first third + 100 ms) and whose backlog drains within 0.5 s after the load
 * stops — printed as
 * `{"bench":"e2e-capacity",…,"certifiedPerSec"}` (`--capacity n` skips it), then a 15 s burst at 6× that
 * capacity: `{"bench":"e2e-overload",…}` with the goodput (accepted events projected per second, from the
 * burst's start to the last projection), `ratio` = goodput / capacity, the events refused with 429,
 * `relayFenced` (every service's `concord_relay_fenced_total` over the burst) and the accepted events
 * not projected 60 s after the burst. Results go to bench-results/e2e-overload-<broker>.json.
 * `--admission off` runs ingest without admission control (every bound 0), for comparison.
 *
 * `--soak` (brokers only) runs instead a steady `--rate` (default 200/s) for `--duration` seconds with
 * the services' retention set to `--retention` seconds (inbox, published outbox rows, notification log,
 * finished deliveries; pruned every `--retention-interval`, default 15 s, the outbox by the relay's cleanup
 * every minute), a webhook subscription to a loopback receiver, sampling every table's rows and size
 * every `--sample` seconds: bench-results/e2e-soak-<broker>.json (see soak.ts for the bounded rule).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBus, namespacedBus } from '@concord/bus';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { ServiceProcess, eventually, freePort } from '../e2e/support/processes.js';
import { cleanUpBrokers } from '../support/broker-cleanup.js';
import { hopsOf, percentile, unprojected, watchBus, watchStream } from './projection-watch.js';
import type { Hops, ProjectionWatch } from './projection-watch.js';
import { soak, soakRetention, soakRetentionEnv } from './soak.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    broker: { type: 'string', default: 'rabbitmq' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '10' },
    aggregates: { type: 'string', default: '2000' },
    inflight: { type: 'string', default: '64' },
    trace: { type: 'string', default: 'off' },
    hops: { type: 'boolean', default: false },
    overload: { type: 'boolean', default: false },
    capacity: { type: 'string' },
    admission: { type: 'string', default: 'on' },
    soak: { type: 'boolean', default: false },
    duration: { type: 'string', default: '600' },
    retention: { type: 'string', default: '90' },
    'retention-interval': { type: 'string', default: '15' },
    sample: { type: 'string', default: '15' },
  },
});
const broker = values.broker;
if (broker !== 'rabbitmq' && broker !== 'kafka' && broker !== 'embedded') {
  throw new Error(`--broker must be rabbitmq, kafka or embedded, not ${broker}`);
}
const rates = (values.rate ?? (values.soak ? '200' : '1000,6000')).split(',').map(Number);
const retentionSec = Number(values.retention);
const retentionIntervalSec = Number(values['retention-interval']);
const seconds = Number(values.seconds);
const batchSize = Number(values.batch);
const aggregateCount = Number(values.aggregates);
const maxInFlight = Number(values.inflight);
/**
 * `off`: services without their instrumentation (no SDK). `unreachable`: instrumented, exporting to a
 * port nothing listens on — what tracing costs when the collector is down. An URL: export there.
 */
const tracing = values.trace;
const TRACE_NOWHERE = 'http://127.0.0.1:9';
const tracingEnv = (): Record<string, string> =>
  tracing === 'off'
    ? {}
    : {
        OTEL_EXPORTER_OTLP_ENDPOINT: tracing === 'unreachable' ? TRACE_NOWHERE : tracing,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // The sampler as the bench was started with (e.g. OTEL_TRACES_SAMPLER=parentbased_traceidratio).
        ...Object.fromEntries(
          ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'].flatMap((name) => {
            const value = process.env[name];
            return value === undefined ? [] : [[name, value]];
          }),
        ),
      };
const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set (see infra/local.env)`);
  return value;
};

interface Result {
  readonly bench: 'e2e';
  readonly broker: string;
  readonly events: number;
  readonly offeredPerSec: number;
  readonly sustainedPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Accepted (HTTP 200, applied/merged) but not in the store once the drain ended. */
  readonly lost: number;
  /** Accepted and stored, but not projected when the drain ended (still in flight). */
  readonly unfinished: number;
  /** Not accepted (request failed or the event was not applied). */
  readonly failed: number;
  /** Refused with 429 CONCORD_OVERLOADED (admission control). */
  readonly rejected: number;
  readonly batch: number;
  readonly seconds: number;
  /** `off`, `unreachable` or the collector's URL (--trace), with the sampler the services used. */
  readonly tracing: string;
  readonly sampler?: string;
  /** With --hops: p50/p90/p99 ms of each hop, and the p99 of each second of the run. */
  readonly hops?: Hops;
}

interface LoadOptions {
  readonly rate: number;
  readonly seconds: number;
  /** How long to wait for every accepted event's projection after the load. */
  readonly drainMs: number;
}

/** Offers `rate` events/s for `seconds` in batches, open loop, at most `maxInFlight` requests at once. */
const offerLoad = async (
  url: string,
  rate: number,
  watch: ProjectionWatch,
  load: LoadOptions = { rate, seconds, drainMs: 60_000 },
): Promise<
  Result & { readonly start: number; readonly end: number; readonly accepted: ReadonlyMap<string, number> }
> => {
  const total = Math.round(rate * load.seconds);
  const accepted = new Map<string, number>();
  let sent = 0;
  let inFlight = 0;
  let failed = 0;
  let rejected = 0;
  const run = randomUUID().slice(0, 8);
  const start = performance.now();
  const post = async (events: unknown[]) => {
    inFlight += 1;
    try {
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      const at = performance.now();
      const body = (await response.json()) as { results?: { id: string; outcome: string }[] };
      if (response.status === 429) {
        rejected += events.length;
        return;
      }
      for (const result of body.results ?? []) {
        if (result.outcome === 'applied' || result.outcome === 'merged') accepted.set(result.id, at);
        else failed += 1;
      }
      if (!response.ok) failed += events.length;
    } catch {
      failed += events.length;
    } finally {
      inFlight -= 1;
    }
  };
  const pending: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent + batchSize <= due || (due === total && sent < total)) {
      if (inFlight >= maxInFlight) break;
      const events = [];
      for (let i = 0; i < batchSize && sent < total; i += 1, sent += 1) {
        events.push({
          id: `${run}-${sent}`,
          type: 'TaskUpdated',
          aggregateType: 'task',
          aggregateId: `bench-${run}-${sent % aggregateCount}`,
          data: { title: `t${sent}`, n: sent },
        });
      }
      pending.push(post(events));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(pending);
  const end = performance.now();
  // Drain: wait until every accepted event is projected, or give up after drainMs.
  await eventually(() => ([...accepted.keys()].every((id) => watch.seen.has(id)) ? true : undefined), {
    timeoutMs: load.drainMs,
    intervalMs: 50,
    what: 'every accepted event to be projected',
  }).catch(() => undefined);
  const { lost, unfinished } = await unprojected(url, accepted, watch);
  const latencies: number[] = [];
  let last = start;
  for (const [id, at] of accepted) {
    const projected = watch.seen.get(id);
    if (projected === undefined) continue;
    latencies.push(projected - at);
    last = Math.max(last, projected);
  }
  latencies.sort((a, b) => a - b);
  const projected = latencies.length;
  const hops = hopsOf(accepted, watch, start);
  return {
    bench: 'e2e',
    broker,
    events: total,
    offeredPerSec: rate,
    sustainedPerSec: Math.round(projected / ((last - start) / 1000)),
    p50Ms: Math.round(percentile(latencies, 0.5) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 0.99) * 10) / 10,
    lost,
    unfinished,
    failed,
    rejected,
    batch: batchSize,
    seconds: load.seconds,
    tracing,
    ...(tracing === 'off'
      ? {}
      : {
          sampler: `${process.env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on'}${
            process.env.OTEL_TRACES_SAMPLER_ARG === undefined ? '' : `:${process.env.OTEL_TRACES_SAMPLER_ARG}`
          }`,
        }),
    ...(hops === undefined ? {} : { hops }),
    start,
    end,
    accepted,
  };
};

/** The sum of a counter over the services' /metrics. */
const scrapeSum = async (urls: readonly string[], name: string): Promise<number> => {
  let sum = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
};

/**
 * Whether a run holds the capacity rule: p99 at most 2 s, p99 not growing across the run (the last
 * third's p99 at most 1.5 × the first third's + 100 ms) and the backlog drained within 0.5 s after the
 * load stopped, with nothing refused, failed or left over.
 */
const holds = (run: Awaited<ReturnType<typeof offerLoad>>, watch: ProjectionWatch): string | undefined => {
  const thirds: number[][] = [[], [], []];
  let last = run.start;
  for (const [id, at] of run.accepted) {
    const projected = watch.seen.get(id);
    if (projected === undefined) return 'not every accepted event was projected';
    last = Math.max(last, projected);
    const third = Math.min(2, Math.floor(((at - run.start) / (run.end - run.start)) * 3));
    thirds[third]?.push(projected - at);
  }
  const p99 = (samples: number[]) =>
    percentile(
      [...samples].sort((a, b) => a - b),
      0.99,
    );
  const [first, , third] = thirds.map((samples) => (samples.length === 0 ? 0 : p99(samples)));
  if (run.rejected > 0 || run.failed > 0) return `${run.rejected} rejected, ${run.failed} failed`;
  if (run.p99Ms > 2000) return `p99 ${run.p99Ms} ms`;
  if ((third ?? 0) > 1.5 * (first ?? 0) + 100) return `p99 grew from ${first} to ${third} ms`;
  if (last - run.end > 500) return `drained ${Math.round(last - run.end)} ms after the load`;
  return undefined;
};

/** The capacity search and the burst at 6× capacity (`--overload`). */
const overload = async (url: string, serviceUrls: readonly string[], watch: ProjectionWatch) => {
  const lines: Record<string, unknown>[] = [];
  let capacity = values.capacity === undefined ? 0 : Number(values.capacity);
  if (capacity === 0) {
    for (const rate of [100, 250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000]) {
      const run = await offerLoad(url, rate, watch, { rate, seconds: 6, drainMs: 15_000 });
      const failure = holds(run, watch);
      process.stderr.write(`capacity search: ${rate}/s p99 ${run.p99Ms} ms: ${failure ?? 'holds'}\n`);
      if (failure !== undefined) break;
      capacity = rate;
      // Let what is left of this step drain before the next.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const line = { bench: 'e2e-capacity', broker, certifiedPerSec: capacity, batch: batchSize };
    lines.push(line);
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  const offered = 6 * Math.max(capacity, 100);
  const fencedBefore = await scrapeSum(serviceUrls, 'concord_relay_fenced_total');
  const burst = await offerLoad(url, offered, watch, { rate: offered, seconds: 15, drainMs: 60_000 });
  const relayFenced = (await scrapeSum(serviceUrls, 'concord_relay_fenced_total')) - fencedBefore;
  const projected = [...burst.accepted.keys()].filter((id) => watch.seen.has(id)).length;
  const goodputPerSec = burst.sustainedPerSec;
  const line = {
    bench: 'e2e-overload',
    broker,
    admission: values.admission,
    offeredPerSec: offered,
    capacityPerSec: capacity,
    goodputPerSec,
    ratio: capacity === 0 ? null : Math.round((goodputPerSec / capacity) * 100) / 100,
    accepted: burst.accepted.size,
    projected,
    rejected: burst.rejected,
    failed: burst.failed,
    relayFenced,
    unfinishedAfterDrain: burst.unfinished,
    lost: burst.lost,
    p50Ms: burst.p50Ms,
    p99Ms: burst.p99Ms,
    seconds: 15,
    batch: batchSize,
  };
  lines.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    `bench-results/e2e-overload-${broker}${values.admission === 'off' ? '-no-admission' : ''}.json`,
    `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  );
};

const main = async (): Promise<void> => {
  const prefix = `bench${randomUUID().slice(0, 8)}.`;
  // Its own exchange, like the e2e stack's: the run leaves nothing on the deployment's `concord`.
  const exchange = `concord-${prefix.slice(0, -1)}`;
  const processes: ServiceProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  let url: string;
  let watch: ProjectionWatch;
  let database: TestDatabase | undefined;
  try {
    if (broker === 'embedded') {
      const dataDir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
      cleanups.push(() => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })));
      const port = await freePort();
      const all = new ServiceProcess({
        service: 'all-in-one',
        port,
        label: 'bench-all-in-one',
        env: { CONCORD_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...tracingEnv() },
        instrument: tracing !== 'off',
      });
      processes.push(all);
      await all.start();
      url = all.url;
      watch = await watchStream(url);
    } else {
      const created = await createTestDatabase({ adminUrl: env('DATABASE_URL') });
      database = created;
      cleanups.push(() => created.close());
      // Every queue (`<prefix><group>.<prefix><topic>`) and topic of this run carries the prefix.
      const ours = (name: string) => name.startsWith(prefix);
      cleanups.push(() =>
        cleanUpBrokers({
          ...(broker === 'rabbitmq' ? { amqpUrl: env('AMQP_URL') } : { kafkaBrokers: env('KAFKA_BROKERS') }),
          select: { queue: ours, exchange: (name) => name === exchange, topic: ours },
          settleMs: 5_000,
          log: (line) => process.stderr.write(`cleanup: ${line}\n`),
        }),
      );
      process.stderr.write(`database ${created.name}, topic prefix ${prefix}\n`);
      const common: Record<string, string> = {
        DATABASE_URL: created.url ?? '',
        BROKER: broker,
        CONCORD_TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        REDIS_URL: env('REDIS_URL'),
        NOTIFIER_QUEUE_PREFIX: prefix.replace(/\.$/, ''),
        ...(values.soak ? soakRetentionEnv(retentionSec, retentionIntervalSec) : {}),
        ...(values.admission === 'off'
          ? { INGEST_ADMISSION_MAX_OUTBOX_ROWS: '0', INGEST_ADMISSION_MAX_CONSUMER_LAG: '0' }
          : {}),
        ...(broker === 'rabbitmq'
          ? { AMQP_URL: env('AMQP_URL'), AMQP_EXCHANGE: exchange }
          : { KAFKA_BROKERS: env('KAFKA_BROKERS') }),
      };
      for (const service of ['ingest', 'resolver', 'projector', 'notifier']) {
        const process_ = new ServiceProcess({
          service,
          port: await freePort(),
          label: `bench-${broker}-${service}`,
          env: { ...common, ...tracingEnv() },
          instrument: tracing !== 'off',
        });
        processes.push(process_);
      }
      await Promise.all(processes.map((p) => p.start()));
      url = processes[0]?.url ?? '';
      const bus = namespacedBus(
        await createBus(
          broker === 'rabbitmq'
            ? { broker: 'rabbitmq', url: env('AMQP_URL'), exchange }
            : { broker: 'kafka', brokers: env('KAFKA_BROKERS'), clientId: 'bench' },
        ),
        prefix,
      );
      cleanups.unshift(() => bus.close());
      watch = await watchBus(bus, { hops: values.hops });
    }
    if (values.soak) {
      if (database === undefined) throw new Error('--soak needs a broker');
      const line = await soak({
        url,
        notifierUrl: processes[3]?.url ?? '',
        db: database.db,
        schema: database.schema,
        broker,
        rate: rates[0] ?? 200,
        durationSec: Number(values.duration),
        sampleSec: Number(values.sample),
        batch: batchSize,
        aggregates: aggregateCount,
        maxInFlight,
        retention: soakRetention(retentionSec, retentionIntervalSec),
        log: (text) => process.stderr.write(`${text}\n`),
      });
      await watch.close();
      process.stdout.write(`${JSON.stringify(line)}\n`);
      mkdirSync('bench-results', { recursive: true });
      writeFileSync(`bench-results/e2e-soak-${broker}.json`, `${JSON.stringify(line, null, 2)}\n`);
      return;
    }
    // Warm up connections, JIT and consumer groups.
    await offerLoad(url, 200, watch);
    if (values.overload) {
      if (broker === 'embedded') throw new Error('--overload needs a broker');
      await overload(
        url,
        processes.map((p) => p.url),
        watch,
      );
      await watch.close();
      return;
    }
    const results: Result[] = [];
    for (const rate of rates) {
      const { start: _start, end: _end, accepted: _accepted, ...result } = await offerLoad(url, rate, watch);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    await watch.close();
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(
      `bench-results/e2e-${broker}${tracing === 'off' ? '' : '-traced'}.json`,
      `${results.map((r) => JSON.stringify(r)).join('\n')}\n`,
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
};

await main();
