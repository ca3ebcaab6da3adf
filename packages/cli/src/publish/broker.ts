import { randomUUID } from 'node:crypto';
import { busErrors, createBus, encodeJson, namespacedBus } from '@concord/bus';
import type { BusConfig, MessageBus, OutgoingMessage } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import { CliError, ExitCode } from '../errors.js';
import type { Progress, Tally } from './progress.js';
import type { BrokerTarget } from './target.js';

/** The submit message's share of the bus's 1,000,000 bytes left to events (the rest: key, id, headers). */
const MAX_MESSAGE_EVENT_BYTES = 900_000;

/** A submit message and how many events it carries. */
export interface SubmitMessage {
  readonly message: OutgoingMessage;
  readonly events: number;
}

const keyOf = (event: unknown): string | undefined => {
  const id =
    typeof event === 'object' && event !== null
      ? (event as { aggregateId?: unknown }).aggregateId
      : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

/**
 * Submit messages for the events, in order: runs of consecutive events of one aggregate share a message
 * (`{ "events": [...] }`, keyed by the aggregate id, so per-aggregate order holds on every broker), each
 * at most `size` events and ~900 kB. Every message has an id of its own: ingest's inbox drops a
 * redelivery of it, and its events' ids make a second publish of the file `duplicate`.
 */
export const submitMessages = (events: readonly unknown[], size: number): SubmitMessage[] => {
  const messages: SubmitMessage[] = [];
  let run: unknown[] = [];
  let runKey: string | undefined;
  let bytes = 0;
  const flush = () => {
    if (run.length === 0) return;
    const id = `cli:${randomUUID()}`;
    messages.push({
      message: { id, key: runKey ?? id, payload: encodeJson({ events: run }) },
      events: run.length,
    });
    run = [];
    bytes = 0;
  };
  for (const event of events) {
    const key = keyOf(event);
    const length = Buffer.byteLength(JSON.stringify(event) ?? 'null') + 1;
    if (
      run.length > 0 &&
      (key === undefined || key !== runKey || run.length >= size || bytes + length > MAX_MESSAGE_EVENT_BYTES)
    ) {
      flush();
    }
    runKey = key;
    run.push(event);
    bytes += length;
  }
  flush();
  return messages;
};

const busConfig = (target: BrokerTarget): BusConfig =>
  target.broker === 'rabbitmq'
    ? {
        broker: 'rabbitmq',
        url: target.address,
        exchange: target.exchange,
        connectionName: 'concord-cli',
        connectTimeoutMs: 10_000,
      }
    : { broker: 'kafka', brokers: target.address, clientId: 'concord-cli' };

/** Publishes the events to the submit topic (`<prefix>concord.events.submit`) and closes the bus. */
export const publishToBroker = async (options: {
  readonly target: BrokerTarget;
  readonly events: readonly unknown[];
  readonly batchSize: number;
  readonly tally: Tally;
  readonly progress: Progress;
}): Promise<void> => {
  const { target, tally, progress } = options;
  let bus: MessageBus;
  try {
    bus = namespacedBus(await createBus(busConfig(target)), target.topicPrefix);
  } catch (error) {
    throw new CliError(
      ExitCode.unreachable,
      `cannot reach ${target.broker} at ${target.address}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  try {
    const messages = submitMessages(options.events, options.batchSize);
    for (let i = 0; i < messages.length; i += 50) {
      const chunk = messages.slice(i, i + 50);
      await bus.publish(
        Topics.submit,
        chunk.map((m) => m.message),
      );
      tally.sent += chunk.reduce((sum, m) => sum + m.events, 0);
      progress.update();
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new CliError(
      code === busErrors.BUS_UNAVAILABLE.code ? ExitCode.unreachable : ExitCode.failed,
      `publishing to ${target.broker} failed: ${(error as Error).message}`,
      { cause: error, ...(typeof code === 'string' ? { code } : {}) },
    );
  } finally {
    await bus.close();
  }
};
