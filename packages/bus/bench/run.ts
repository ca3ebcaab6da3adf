/**
 * `pnpm bench:bus -- --broker rabbitmq|kafka|memory`: the bus adapter against the plain client doing the
 * same work in the same run. Rounds alternate raw and adapter after a warm-up; the best round of each
 * counts. Prints one JSON line and writes it to bench-results/bus-<broker>.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createKafkaBus, createMemoryBus, createRabbitMqBus } from '@concord/bus';
import type { MessageBus } from '@concord/bus';
import { measureBus } from './adapter.js';
import { deleteKafkaBenchTopics, runKafkaRaw } from './kafka-raw.js';
import { parseBenchArgs } from './args.js';
import type { BenchBroker } from './args.js';
import { rawMemory } from './memory-raw.js';
import { deleteRabbitMqBenchTopology, rawRabbitMq } from './rabbitmq-raw.js';
import type { Runner, Throughput, Workload } from './workload.js';

const args = parseBenchArgs(process.argv.slice(2));
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const kafkaBrokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const exchange = `concord.bench.${run}`;

interface Sides {
  readonly raw: Runner;
  readonly adapter: Runner;
  readonly close: () => Promise<void>;
}

const adapterSide =
  (bus: MessageBus, prepare: boolean): Runner =>
  (workload, topic) =>
    measureBus(bus, workload, topic, prepare);

const sides = async (broker: BenchBroker): Promise<Sides> => {
  switch (broker) {
    case 'memory': {
      const bus = createMemoryBus({ maxMessageBytes: 16 * 1024 * 1024 });
      return { raw: rawMemory, adapter: adapterSide(bus, true), close: () => bus.close() };
    }
    case 'rabbitmq': {
      const bus = await createRabbitMqBus({ url: amqpUrl, exchange, maxMessageBytes: 16 * 1024 * 1024 });
      const adapterTopics: string[] = [];
      const rawTopics: string[] = [];
      return {
        raw: (workload, topic) => {
          rawTopics.push(topic);
          return rawRabbitMq(amqpUrl, exchange, workload, topic);
        },
        adapter: (workload, topic) => {
          adapterTopics.push(topic);
          return measureBus(bus, workload, topic, true);
        },
        close: async () => {
          await bus.close();
          await deleteRabbitMqBenchTopology(amqpUrl, exchange, { adapterTopics, rawTopics });
        },
      };
    }
    case 'kafka': {
      const bus = createKafkaBus({ brokers: kafkaBrokers, fromBeginning: true });
      const topics: string[] = [];
      return {
        raw: async (workload) => {
          const raw = await runKafkaRaw({
            brokers: kafkaBrokers.join(','),
            messages: workload.messages,
            size: workload.size,
            batchSize: workload.batch,
          });
          return {
            publishPerSec: Math.round(raw.rawPublishPerSec),
            consumePerSec: Math.round(raw.rawConsumePerSec),
          };
        },
        // Prepared like the raw side, which creates its topic before timing starts.
        adapter: (workload, topic) => {
          topics.push(topic);
          return measureBus(bus, workload, topic, true);
        },
        close: async () => {
          await bus.close();
          await deleteKafkaBenchTopics(kafkaBrokers, topics);
        },
      };
    }
  }
};

const best = (results: readonly Throughput[]): Throughput => ({
  publishPerSec: Math.max(...results.map((r) => r.publishPerSec)),
  consumePerSec: Math.max(...results.map((r) => r.consumePerSec)),
});

const main = async (): Promise<void> => {
  const workload: Workload = {
    messages: args.messages,
    size: args.size,
    batch: args.batch,
    keys: 100,
    concurrency: 16,
  };
  const { raw, adapter, close } = await sides(args.broker);
  const raws: Throughput[] = [];
  const adapters: Throughput[] = [];
  try {
    const warmUp = { ...workload, messages: Math.min(workload.messages, 2_000) };
    await raw(warmUp, `bench.${run}.warm-raw`);
    await adapter(warmUp, `bench.${run}.warm-bus`);
    for (let round = 0; round < args.rounds; round += 1) {
      raws.push(await raw(workload, `bench.${run}.raw-${round}`));
      adapters.push(await adapter(workload, `bench.${run}.bus-${round}`));
    }
  } finally {
    await close();
  }
  const bus = best(adapters);
  const plain = best(raws);
  const result = {
    bench: 'bus',
    broker: args.broker,
    messages: workload.messages,
    size: workload.size,
    publishPerSec: bus.publishPerSec,
    rawPublishPerSec: plain.publishPerSec,
    consumePerSec: bus.consumePerSec,
    rawConsumePerSec: plain.consumePerSec,
  };
  const line = JSON.stringify(result);
  console.log(line);
  const dir = new URL('../../../bench-results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`bus-${args.broker}.json`, dir), `${line}\n`);
};

await main();
