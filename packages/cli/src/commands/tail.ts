import type { Command } from '../command.js';
import { listOption, stringOption } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { httpFailure, readJson } from '../http.js';
import { writeJson, writeLine } from '../io.js';
import { intOption } from '../options.js';
import { parseSse } from '../sse.js';
import type { SseEvent } from '../sse.js';

/** The notifier's stream filters (`GET /v1/stream`), by the option that sets each. */
const FILTERS = {
  'event-type': 'eventTypes',
  'aggregate-type': 'aggregateTypes',
  'aggregate-id': 'aggregateIds',
  outcome: 'outcomes',
  topic: 'topics',
} as const;

interface NotificationData {
  readonly eventId?: string;
  readonly eventType?: string;
  readonly aggregateType?: string;
  readonly aggregateId?: string;
  readonly outcome?: string;
  readonly createdAt?: string;
  readonly data?: { readonly version?: number };
}

/** One line for people: `<id> <kind> <aggregate type>/<id> <event id> <event type> [outcome] [v<n>]`. */
const lineOf = (event: SseEvent): string => {
  let n: NotificationData = {};
  try {
    n = JSON.parse(event.data) as NotificationData;
  } catch {
    return `${event.id ?? '-'} ${event.event} ${event.data}`;
  }
  if (event.event === 'resync') return `${event.id ?? '-'} resync ${event.data}`;
  const parts = [
    event.id ?? '-',
    event.event,
    n.aggregateType === undefined ? undefined : `${n.aggregateType}/${n.aggregateId ?? ''}`,
    n.eventId,
    n.eventType,
    n.outcome,
    typeof n.data?.version === 'number' ? `v${n.data.version}` : undefined,
  ];
  return parts.filter((part) => part !== undefined && part !== '').join(' ');
};

const parseJsonData = (data: string): unknown => {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
};

export const tailCommand: Command = {
  path: ['tail'],
  args: '',
  summary: 'follows the notification stream (GET /v1/stream, Server-Sent Events)',
  details: [
    'Prints one line per notification (with --json: `{ id, event, data }` per line). When the',
    'connection drops it reconnects with Last-Event-ID and goes on where it stopped; a `resync` line',
    'means the log was pruned past that position. Filters take comma-separated lists, `re:<pattern>`,',
    'and may be repeated. Without --from the stream starts at the present; --from 0 replays the log.',
    'Exit 0 after --count notifications or on Ctrl-C; 1 when the server refuses the stream.',
  ],
  options: {
    'event-type': { type: 'string', multiple: true, value: 'types', description: 'only these event types' },
    'aggregate-type': {
      type: 'string',
      multiple: true,
      value: 'types',
      description: 'only these aggregate types',
    },
    'aggregate-id': {
      type: 'string',
      multiple: true,
      value: 'ids',
      description: 'only these aggregate ids (glob patterns)',
    },
    outcome: { type: 'string', multiple: true, value: 'outcomes', description: 'only these outcomes' },
    topic: {
      type: 'string',
      multiple: true,
      value: 'topics',
      description: 'only notifications of these topics',
    },
    from: {
      type: 'string',
      value: 'id',
      description: 'resume after this notification id (0: from the start)',
    },
    count: { type: 'string', value: 'n', description: 'stop after n notifications' },
    reconnect: {
      type: 'string',
      value: 'ms',
      description: "wait before reconnecting (default: the server's retry, 2000)",
    },
  },
  positionals: { min: 0, max: 0 },
  async run({ io, global, values, client }) {
    const query: Record<string, string> = {};
    for (const [option, parameter] of Object.entries(FILTERS)) {
      const list = listOption(values, option);
      if (list.length > 0) query[parameter] = list.join(',');
    }
    const from = stringOption(values, 'from');
    const countRaw = stringOption(values, 'count');
    const count =
      countRaw === undefined
        ? undefined
        : intOption(countRaw, 'count', { min: 1, max: Number.MAX_SAFE_INTEGER, fallback: 1 });
    const reconnectRaw = stringOption(values, 'reconnect');
    let retryMs =
      reconnectRaw === undefined
        ? 2000
        : intOption(reconnectRaw, 'reconnect', { min: 0, max: 600_000, fallback: 2000 });
    let lastEventId = from;
    let received = 0;
    let connectedOnce = false;
    const controller = new AbortController();
    const stop = () => controller.abort();
    io.signal.addEventListener('abort', stop, { once: true });
    try {
      while (!controller.signal.aborted) {
        let response: Response;
        try {
          response = await client().send({
            method: 'GET',
            path: '/v1/stream',
            query,
            headers: {
              accept: 'text/event-stream',
              ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
            },
            signal: controller.signal,
          });
        } catch (error) {
          if (controller.signal.aborted) break;
          // Never connected: nothing to follow (exit 3). Once following, a drop is waited out.
          if (!connectedOnce && error instanceof CliError) throw error;
          if (!global.json) writeLine(io.stderr, `concord: stream lost, reconnecting in ${retryMs} ms`);
          await io.sleep(retryMs, controller.signal).catch(() => undefined);
          continue;
        }
        if (!response.ok) {
          const failure = httpFailure(response, await readJson(response));
          const retryable = response.status === 429 || response.status === 503;
          if (!retryable || !connectedOnce) throw failure;
          await io.sleep(retryMs, controller.signal).catch(() => undefined);
          continue;
        }
        connectedOnce = true;
        if (response.body === null) continue;
        try {
          for await (const event of parseSse(response.body, (ms) => {
            if (reconnectRaw === undefined) retryMs = ms;
          })) {
            if (event.id !== undefined) lastEventId = event.id;
            if (global.json)
              writeJson(io.stdout, {
                id: event.id ?? null,
                event: event.event,
                data: parseJsonData(event.data),
              });
            else writeLine(io.stdout, lineOf(event));
            received += 1;
            if (count !== undefined && received >= count) {
              controller.abort();
              break;
            }
          }
        } catch (error) {
          if (controller.signal.aborted) break;
          void error;
        }
        if (controller.signal.aborted) break;
        if (!global.json)
          writeLine(
            io.stderr,
            `concord: stream ended, resuming after ${lastEventId ?? 'the present'} in ${retryMs} ms`,
          );
        await io.sleep(retryMs, controller.signal).catch(() => undefined);
      }
    } finally {
      io.signal.removeEventListener('abort', stop);
    }
    return ExitCode.ok;
  },
};
