import type { Command } from '../command.js';
import { booleanOption, stringOption } from '../command.js';
import { ExitCode } from '../errors.js';
import { writeJson, writeLine, writePretty } from '../io.js';
import { intOption } from '../options.js';

interface FeedEntry {
  readonly event: {
    readonly id: string;
    readonly type: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
  };
  readonly outcome: string;
  readonly version: number;
  readonly cursor: string;
}

interface FeedPage {
  readonly events: readonly FeedEntry[];
  readonly next: string;
}

export const eventsGet: Command = {
  path: ['events', 'get'],
  args: '<id>',
  summary: 'an event, its current outcome and, once resolved, the decision (GET /v1/events/:id)',
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ io, global, positionals, client }) {
    const id = positionals[0] ?? '';
    const event = await client().json<unknown>({
      method: 'GET',
      path: `/v1/events/${encodeURIComponent(id)}`,
    });
    (global.json ? writeJson : writePretty)(io.stdout, event);
    return ExitCode.ok;
  },
};

export const eventsFeed: Command = {
  path: ['events', 'feed'],
  args: '',
  summary: 'applied events in commit order, from a cursor (GET /v1/events?after=&limit=)',
  details: [
    'Prints one line per event (`<cursor> <id> <type> <aggregate type>/<id> v<version> <outcome>`), then',
    '`next: <cursor>` on stderr; pass it as --after to continue. With --json, one page per line.',
  ],
  options: {
    after: {
      type: 'string',
      value: 'cursor',
      description: 'start after this cursor (default: the beginning)',
    },
    limit: { type: 'string', value: 'n', description: 'events per page, 1..1000 (default 100)' },
    all: { type: 'boolean', description: 'follow `next` until no event is left' },
  },
  positionals: { min: 0, max: 0 },
  async run({ io, global, values, client }) {
    const limit = intOption(stringOption(values, 'limit'), 'limit', { min: 1, max: 1000, fallback: 100 });
    let after = stringOption(values, 'after');
    for (;;) {
      const page = await client().json<FeedPage>({
        method: 'GET',
        path: '/v1/events',
        query: { limit: String(limit), after },
      });
      if (global.json) writeJson(io.stdout, page);
      else {
        for (const { event, outcome, version, cursor } of page.events) {
          writeLine(
            io.stdout,
            `${cursor} ${event.id} ${event.type} ${event.aggregateType}/${event.aggregateId} v${version} ${outcome}`,
          );
        }
      }
      const done = !booleanOption(values, 'all') || page.events.length === 0 || page.next === after;
      after = page.next;
      if (done) break;
    }
    if (!global.json) writeLine(io.stderr, `next: ${after ?? ''}`);
    return ExitCode.ok;
  },
};
