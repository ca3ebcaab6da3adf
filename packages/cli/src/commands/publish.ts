import type { Command } from '../command.js';
import { booleanOption, stringOption } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { readInput } from '../input.js';
import type { CliIo } from '../io.js';
import { writeJson, writeLine } from '../io.js';
import { intOption } from '../options.js';
import { brokerTarget } from '../publish/target.js';
import { postBatch } from '../publish/http.js';
import { batchesOf, idOf, parseEvents } from '../publish/parse.js';
import { newTally, progressLine } from '../publish/progress.js';
import type { Tally } from '../publish/progress.js';
import { waitForOutcomes } from '../publish/wait.js';

/** Below the server's 4 MiB body limit, with room for the batch's own JSON. */
const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

/** What `publish` prints at the end (with `--json`, as is). */
interface PublishSummary {
  /** `http`, `rabbitmq` or `kafka`. */
  readonly via: string;
  readonly total: number;
  readonly sent: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly rejected: Tally['rejected'];
  readonly elapsedMs: number;
}

const summaryOf = (tally: Tally, elapsedMs: number, via: string): PublishSummary => ({
  via,
  total: tally.total,
  sent: tally.sent,
  outcomes: tally.outcomes,
  rejected: tally.rejected,
  elapsedMs,
});

const printSummary = (io: CliIo, json: boolean, summary: PublishSummary): void => {
  if (json) {
    writeJson(io.stdout, summary);
    return;
  }
  const outcomes = Object.entries(summary.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, count]) => `${count} ${outcome}`)
    .join(', ');
  const rate = summary.elapsedMs > 0 ? Math.round((summary.sent * 1000) / summary.elapsedMs) : summary.sent;
  writeLine(
    io.stdout,
    `${summary.sent}/${summary.total} events ${summary.via === 'http' ? 'submitted' : `published to ${summary.via}`} in ${(summary.elapsedMs / 1000).toFixed(1)}s (${rate}/s)${outcomes === '' ? '' : `: ${outcomes}`}`,
  );
  for (const r of summary.rejected) {
    writeLine(
      io.stderr,
      `rejected ${r.id}: ${r.code ?? ''}${r.message === undefined ? '' : ` ${r.message}`}`,
    );
  }
};

export const publishCommand: Command = {
  path: ['publish'],
  args: '[file|-]',
  summary: 'submits events from a JSON or NDJSON file or stdin, over HTTP or to the broker',
  details: [
    'Input: one envelope, an array, `{ "events": [...] }`, or NDJSON (one envelope per line).',
    'Over HTTP (POST /v1/events) in batches, in order; 429/503 are waited out per Retry-After and retried,',
    'a batch over the size limits (413) is split. With --broker, to the submit topic through the bus',
    '(`--wait` then looks up each outcome over HTTP). A progress line (rate, ETA) is drawn on stderr',
    'when it is a terminal. Prints a summary of the outcomes; exit 1 if any event was rejected.',
  ],
  options: {
    'batch-size': {
      type: 'string',
      value: 'n',
      description: 'events per request or submit message, 1..1000 (default 500)',
    },
    retries: {
      type: 'string',
      value: 'n',
      description: 'attempts of a request refused with 429/503 (default 30)',
    },
    broker: { type: 'string', value: 'rabbitmq|kafka', description: 'publish to the broker instead of HTTP' },
    'broker-url': {
      type: 'string',
      value: 'address',
      description: 'AMQP URL or Kafka brokers (env AMQP_URL / KAFKA_BROKERS)',
    },
    exchange: {
      type: 'string',
      value: 'name',
      description: 'RabbitMQ exchange (env AMQP_EXCHANGE; default concord)',
    },
    'topic-prefix': {
      type: 'string',
      value: 'prefix',
      description: 'topic prefix (env CONCORD_TOPIC_PREFIX)',
    },
    wait: { type: 'boolean', description: 'with --broker: wait for every outcome (looked up over HTTP)' },
    'wait-timeout': { type: 'string', value: 'seconds', description: 'how long --wait waits (default 60)' },
  },
  positionals: { min: 0, max: 1 },
  async run({ io, global, values, positionals, client }) {
    const batchSize = intOption(stringOption(values, 'batch-size'), 'batch-size', {
      min: 1,
      max: 1000,
      fallback: 500,
    });
    const retries = intOption(stringOption(values, 'retries'), 'retries', {
      min: 1,
      max: 1000,
      fallback: 30,
    });
    const waitTimeout = intOption(stringOption(values, 'wait-timeout'), 'wait-timeout', {
      min: 1,
      max: 86_400,
      fallback: 60,
    });
    const broker = stringOption(values, 'broker');
    const target =
      broker === undefined
        ? undefined
        : brokerTarget(
            broker,
            {
              address: stringOption(values, 'broker-url'),
              exchange: stringOption(values, 'exchange'),
              prefix: stringOption(values, 'topic-prefix'),
            },
            io.env,
          );
    const input = await readInput(io, positionals[0]);
    const events = parseEvents(input.text, input.name);
    const tally = newTally(events.length);
    const progress = progressLine(io, tally);
    const started = io.now();
    const finish = (): PublishSummary => {
      progress.done();
      return summaryOf(tally, io.now() - started, target?.broker ?? 'http');
    };
    try {
      if (target === undefined) {
        let offset = 0;
        for (const batch of batchesOf(events, batchSize, MAX_REQUEST_BYTES)) {
          await postBatch({ io, client: client(), tally, progress, retries }, batch, offset);
          offset += batch.length;
        }
      } else {
        // The broker clients load only when asked for: an HTTP publish starts without them.
        const { publishToBroker } = await import('../publish/broker.js');
        await publishToBroker({ target, events, batchSize, tally, progress });
        if (booleanOption(values, 'wait')) {
          await waitForOutcomes({
            io,
            client: client(),
            ids: events.map(idOf).filter((id) => !id.startsWith('#')),
            timeoutMs: waitTimeout * 1000,
            tally,
            progress,
          });
        }
      }
    } catch (error) {
      // What was done is reported before the failure is.
      if (error instanceof CliError) printSummary(io, global.json, finish());
      throw error;
    }
    printSummary(io, global.json, finish());
    return tally.rejected.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
};
