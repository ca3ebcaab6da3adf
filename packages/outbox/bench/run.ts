/**
 * `pnpm bench:outbox -- --broker rabbitmq|kafka`: append throughput vs raw inserts, relay throughput vs
 * raw publishes, and p99 relay lag. Prints one JSON line per bench and writes
 * bench-results/outbox-<broker>.json at the repository root.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createTestDatabase } from '../src/testing/index.js';
import { benchAppend } from './append.js';
import { benchRelay } from './relay.js';
import { createBrokerBus, parseArgs, round } from './setup.js';

const args = parseArgs(process.argv.slice(2));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const t = await createTestDatabase({ adminUrl, max: args.workers + 4 });
const bus = await createBrokerBus(args.broker, suffix);
try {
  const append = await benchAppend(t.db, { events: args.events, workers: args.workers });
  const appendResult = {
    bench: 'outbox-append',
    eventsPerSec: round(append.eventsPerSec),
    rawInsertPerSec: round(append.rawInsertPerSec),
    ratio: round((append.eventsPerSec / append.rawInsertPerSec) * 100) / 100,
    events: append.events,
    outboxRowsPerEvent: append.outboxRowsPerEvent,
    batchSize: 100,
    connections: args.workers,
  };
  console.log(JSON.stringify(appendResult));
  const relay = await benchRelay(t.db, bus, { messages: args.messages, topic: `bench.outbox.${suffix}` });
  const relayResult = {
    bench: 'outbox-relay',
    broker: args.broker,
    messagesPerSec: round(relay.messagesPerSec),
    rawPublishPerSec: round(relay.rawPublishPerSec),
    p99LagMs: round(relay.lagSamples.p99),
    ratio: round((relay.messagesPerSec / relay.rawPublishPerSec) * 100) / 100,
    p50LagMs: round(relay.lagSamples.p50),
    messages: args.messages,
    batchSize: 500,
  };
  console.log(JSON.stringify(relayResult));
  const dir = new URL('../../../bench-results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(
    new URL(`outbox-${args.broker}.json`, dir),
    `${JSON.stringify([appendResult, relayResult], null, 2)}\n`,
  );
} finally {
  await bus.close();
  await t.close();
}
