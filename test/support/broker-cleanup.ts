/**
 * Deletes broker objects left by tests and benchmarks: RabbitMQ queues and exchanges (listed with the
 * local `rabbitmqctl`, deleted over AMQP) and Kafka topics (kafkajs admin). Only names `select` picks,
 * and of those only what no consumer uses now (see broker-leftovers.ts). Never throws: it reports what
 * it did, or why it did nothing, through `log`, within a deadline.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { selectKafka, selectRabbitMq } from './broker-leftovers.js';
import type { RabbitMqListing, RabbitMqSelection, Select } from './broker-leftovers.js';

const run = promisify(execFile);

export interface CleanupOptions {
  /** RabbitMQ to clean; undefined: none. */
  readonly amqpUrl?: string | undefined;
  /** Kafka to clean (`host:port[,…]`); undefined: none. */
  readonly kafkaBrokers?: string | undefined;
  readonly select: Select;
  readonly log: (line: string) => void;
  /**
   * How long to wait for the consumers of selected objects to go away (the broker drops them a moment
   * after a stopped process's connection), for a caller that has just stopped its own. Default 0.
   */
  readonly settleMs?: number;
  /** Default 30 s. */
  readonly deadlineMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
/** Parallel AMQP channels deleting queues (a quorum queue's deletion waits for its Raft group). */
const CHANNELS = 4;

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Looks again every 250 ms while something selected is in use, for at most `settleMs`. */
const settled = async <T>(settleMs: number, look: () => Promise<T>, spared: (seen: T) => number) => {
  const until = Date.now() + settleMs;
  let seen = await look();
  while (spared(seen) > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    seen = await look();
  }
  return seen;
};

const rabbitmqctl = async <T>(vhost: string, args: readonly string[]): Promise<T[]> => {
  const { stdout } = await run('rabbitmqctl', [...args, '-p', vhost, '--formatter', 'json', '--silent'], {
    timeout: 15_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
};

const listRabbitMq = async (vhost: string): Promise<RabbitMqListing> => {
  const [queues, exchanges, bindings] = await Promise.all([
    rabbitmqctl<{ name: string; consumers: number }>(vhost, ['list_queues', 'name', 'consumers']),
    rabbitmqctl<{ name: string }>(vhost, ['list_exchanges', 'name']),
    rabbitmqctl<{ source_name: string; destination_name: string; destination_kind: string }>(vhost, [
      'list_bindings',
      'source_name',
      'destination_name',
      'destination_kind',
    ]),
  ]);
  return {
    queues,
    exchanges: exchanges.map((exchange) => exchange.name),
    bindings: bindings
      .filter((binding) => binding.destination_kind === 'queue')
      .map((binding) => ({ exchange: binding.source_name, queue: binding.destination_name })),
  };
};

/** Runs `work` for each name on a few channels, replacing a channel the broker closed; counts failures. */
const onChannels = async (
  connection: ChannelModel,
  names: readonly string[],
  work: (channel: Channel, name: string) => Promise<unknown>,
): Promise<number> => {
  let failed = 0;
  const pending = [...names];
  const worker = async () => {
    let channel: Channel | undefined;
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      try {
        if (channel === undefined) {
          channel = await connection.createChannel();
          channel.on('error', () => undefined);
        }
        await work(channel, name);
      } catch {
        failed += 1;
        channel = undefined;
      }
    }
    await channel?.close().catch(() => undefined);
  };
  await Promise.all(Array.from({ length: Math.min(CHANNELS, names.length) }, worker));
  return failed;
};

const cleanRabbitMq = async (url: string, options: CleanupOptions): Promise<void> => {
  const { select, log } = options;
  const parsed = new URL(url);
  if (!LOOPBACK.has(parsed.hostname)) {
    log(`RabbitMQ at ${parsed.hostname} is not local (rabbitmqctl cannot list it): not cleaned`);
    return;
  }
  const vhost = decodeURIComponent(parsed.pathname.slice(1)) || '/';
  let selection: RabbitMqSelection;
  try {
    selection = await settled(
      options.settleMs ?? 0,
      async () => selectRabbitMq(await listRabbitMq(vhost), select),
      (seen) => seen.queues.spared + seen.exchanges.spared,
    );
  } catch (error) {
    log(`rabbitmqctl cannot list the local broker (${message(error).split('\n')[0]}): RabbitMQ not cleaned`);
    return;
  }
  const { queues, exchanges } = selection;
  if (queues.delete.length + exchanges.delete.length === 0) {
    log(`RabbitMQ: nothing to delete (${queues.spared} queues in use)`);
    return;
  }
  const connection = await connect(url);
  connection.on('error', () => undefined);
  try {
    // rabbitmqctl talks to the local node; delete only if AMQP_URL reaches that same node.
    const [probe] = queues.delete;
    const same = await onChannels(connection, [probe ?? exchanges.delete[0] ?? ''], (channel, name) =>
      probe === undefined ? channel.checkExchange(name) : channel.checkQueue(name),
    );
    if (same !== 0) {
      log('RabbitMQ: the broker at AMQP_URL is not the node rabbitmqctl lists: not cleaned');
      return;
    }
    const started = Date.now();
    const queueFailures = await onChannels(connection, queues.delete, (channel, name) =>
      channel.deleteQueue(name),
    );
    const exchangeFailures = await onChannels(connection, exchanges.delete, (channel, name) =>
      channel.deleteExchange(name),
    );
    log(
      `RabbitMQ: deleted ${queues.delete.length - queueFailures} queues and ` +
        `${exchanges.delete.length - exchangeFailures} exchanges in ${Date.now() - started} ms` +
        (queueFailures + exchangeFailures > 0 ? ` (${queueFailures + exchangeFailures} failed)` : '') +
        (queues.spared + exchanges.spared > 0
          ? `; left ${queues.spared} queues and ${exchanges.spared} exchanges in use`
          : ''),
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
};

/** Topics assigned to members of consumer groups that have members now. */
const consumedTopics = async (admin: Admin): Promise<string[]> => {
  const { groups } = await admin.listGroups();
  if (groups.length === 0) return [];
  const described = await admin.describeGroups(groups.map((group) => group.groupId));
  return described.groups.flatMap((group) =>
    group.members.flatMap((member) => {
      if (member.memberAssignment.length === 0) return [];
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.keys(decoded?.assignment ?? {});
    }),
  );
};

const cleanKafka = async (brokers: string, options: CleanupOptions): Promise<void> => {
  const { log } = options;
  const admin = new Kafka({
    clientId: 'concord-cleanup',
    brokers: brokers.split(','),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 1 },
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const selection = await settled(
      options.settleMs ?? 0,
      async () => {
        const [topics, consumed] = await Promise.all([admin.listTopics(), consumedTopics(admin)]);
        return selectKafka({ topics, consumed }, options.select.topic);
      },
      (seen) => seen.spared,
    );
    if (selection.delete.length === 0) {
      log(`Kafka: nothing to delete (${selection.spared} topics in use)`);
      return;
    }
    const started = Date.now();
    await admin.deleteTopics({ topics: [...selection.delete], timeout: 15_000 });
    log(
      `Kafka: deleted ${selection.delete.length} topics in ${Date.now() - started} ms` +
        (selection.spared > 0 ? `; left ${selection.spared} in use` : ''),
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/** Deletes what `select` picks on both brokers, in parallel; logs and never rejects. */
export const cleanUpBrokers = async (options: CleanupOptions): Promise<void> => {
  const { log } = options;
  const guarded = (what: string, work: Promise<void>) =>
    work.catch((error: unknown) => log(`${what} cleanup failed: ${message(error).split('\n')[0]}`));
  const work = Promise.all([
    options.amqpUrl === undefined ? undefined : guarded('RabbitMQ', cleanRabbitMq(options.amqpUrl, options)),
    options.kafkaBrokers === undefined
      ? undefined
      : guarded('Kafka', cleanKafka(options.kafkaBrokers, options)),
  ]);
  let timer: NodeJS.Timeout | undefined;
  const deadlineMs = options.deadlineMs ?? 30_000;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log(`gave up after ${deadlineMs} ms; the next run deletes what is left`);
      resolve();
    }, deadlineMs);
    timer.unref();
  });
  await Promise.race([work, deadline]);
  clearTimeout(timer);
};
