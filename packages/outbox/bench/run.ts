/**
 * `pnpm bench:outbox -- --broker rabbitmq|kafka`: append throughput vs raw inserts, relay throughput vs
 * raw publishes, and p99 relay lag. Prints one JSON line per bench and writes
 * bench-results/outbox-<broker>.json at the repository root. Each comparison runs `--rounds` alternating
 * rounds (default 5) after a warm-up and reports the medians; every round's figures are in `rounds`.
 * The append and relay benches each get a database of their own. `--breakdown` adds a third side to the
 * relay's rounds: the plain client with the relay's reads beside it (`rawWithReadsPublishPerSec`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createTestDatabase } from '../src/testing/index.js';
import { benchAppend } from './append.js';
import { RELAY_BATCH, benchRelay } from './relay.js';
import { createBrokerBus, drainingReader, parseArgs, round } from './setup.js';

const args = parseArgs(process.argv.slice(2));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const ratio = (n: number) => Math.round(n * 1000) / 1000;

const appendDb = await createTestDatabase({ adminUrl, max: args.workers + 4 });
let appendResult;
try {
  const append = await benchAppend(appendDb.db, args);
  appendResult = {
    bench: 'outbox-append',
    eventsPerSec: round(append.eventsPerSec),
    rawInsertPerSec: round(append.rawInsertPerSec),
    ratio: ratio(append.ratio),
    events: append.events,
    outboxRowsPerEvent: append.outboxRowsPerEvent,
    batchSize: 100,
    connections: args.workers,
    rounds: append.rounds.map((r) => ({
      eventsPerSec: round(r.eventsPerSec),
      rawInsertPerSec: round(r.rawInsertPerSec),
      ratio: ratio(r.ratio),
    })),
  };
  console.log(JSON.stringify(appendResult));
} finally {
  await appendDb.close();
}

const relayDb = await createTestDatabase({ adminUrl, max: 8 });
const readsDb = args.breakdown ? await createTestDatabase({ adminUrl, max: 2 }) : undefined;
const bus = await createBrokerBus(args.broker, suffix);
const topic = `bench.outbox.${suffix}`;
// RabbitMQ refuses a message no queue takes (publishes are mandatory): a group reads the topic, as a
// deployment's consumers do, so every publish lands in a queue.
const reader = args.broker === 'rabbitmq' ? await drainingReader(bus, topic, suffix) : undefined;
try {
  const relay = await benchRelay(relayDb.db, bus, {
    messages: args.messages,
    topic,
    rounds: args.rounds,
    ...(readsDb === undefined ? {} : { readsDb: readsDb.db }),
  });
  const relayResult = {
    bench: 'outbox-relay',
    broker: args.broker,
    messagesPerSec: round(relay.messagesPerSec),
    rawPublishPerSec: round(relay.rawPublishPerSec),
    p99LagMs: round(relay.lagMs.p99),
    ratio: ratio(relay.ratio),
    p50LagMs: round(relay.lagMs.p50),
    maxLagMs: round(relay.lagMs.max),
    liveWritePerSec: round(relay.liveWritePerSec),
    ...(relay.rawWithReadsPublishPerSec === undefined
      ? {}
      : { rawWithReadsPublishPerSec: round(relay.rawWithReadsPublishPerSec) }),
    messages: args.messages,
    batchSize: RELAY_BATCH,
    rounds: relay.rounds.map((r) => ({
      messagesPerSec: round(r.messagesPerSec),
      rawPublishPerSec: round(r.rawPublishPerSec),
      ratio: ratio(r.ratio),
      ...(r.rawWithReadsPublishPerSec === undefined
        ? {}
        : { rawWithReadsPublishPerSec: round(r.rawWithReadsPublishPerSec) }),
    })),
  };
  console.log(JSON.stringify(relayResult));
  const dir = new URL('../../../bench-results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(
    new URL(`outbox-${args.broker}.json`, dir),
    `${JSON.stringify([appendResult, relayResult], null, 2)}\n`,
  );
} finally {
  await reader?.close();
  await bus.close();
  await relayDb.close();
  await readsDb?.close();
}
