import type { Command, CommandContext, OptionSpec, OptionValues } from '../command.js';
import { booleanOption, stringOption } from '../command.js';
import { ExitCode, SERVER_DEAD_LETTER_KIND_UNAVAILABLE, usageError } from '../errors.js';
import type { ConcordClient } from '../http.js';
import { httpFailure, readJson, serverErrorOf } from '../http.js';
import { writeJson, writeLine } from '../io.js';
import { intOption } from '../options.js';

const KINDS = ['outbox', 'bus', 'webhook'] as const;
type Kind = (typeof KINDS)[number];

/** The filters, as flags and as the API names them, and the kinds each applies to. */
const FILTERS = {
  topic: { param: 'topic', kinds: ['outbox', 'bus'] },
  group: { param: 'group', kinds: ['bus'] },
  subscription: { param: 'subscriptionId', kinds: ['webhook'] },
  'error-code': { param: 'errorCode', kinds: ['outbox', 'bus', 'webhook'] },
  before: { param: 'before', kinds: ['outbox', 'bus', 'webhook'] },
} as const satisfies Record<string, { param: string; kinds: readonly Kind[] }>;
type FilterFlag = keyof typeof FILTERS;

const FILTER_OPTIONS: Record<FilterFlag | 'kind', OptionSpec> = {
  kind: {
    type: 'string',
    value: 'kind',
    description: `only this kind: ${KINDS.join(', ')} (default every kind)`,
  },
  topic: { type: 'string', value: 'topic', description: 'only messages for this topic (outbox, bus)' },
  group: { type: 'string', value: 'group', description: 'only those this consumer group gave up on (bus)' },
  subscription: {
    type: 'string',
    value: 'id',
    description: 'only deliveries of this subscription (webhook)',
  },
  'error-code': { type: 'string', value: 'code', description: 'only those whose last error has this code' },
  before: { type: 'string', value: 'time', description: 'only those dead-lettered at or before (ISO 8601)' },
};

interface DeadLetter {
  readonly kind: Kind;
  readonly id: string;
  readonly errorCode: string;
  readonly error: string;
  readonly attempts: number;
  readonly deadLetteredAt: string;
  readonly topic?: string;
  readonly key?: string;
  readonly group?: string;
  readonly subscriptionId?: string;
  readonly url?: string;
}

interface Page {
  readonly kind: Kind;
  readonly deadLetters: readonly DeadLetter[];
  readonly next: string | null;
}

interface Refused {
  readonly id: string;
  readonly reason: string;
  readonly message: string;
}

interface ReplayAnswer {
  readonly replayed: readonly string[];
  readonly missing: readonly string[];
  readonly refused: readonly Refused[];
}

const isKind = (value: string): value is Kind => (KINDS as readonly string[]).includes(value);

/** The filter flags given, as query or body members. */
const filtersOf = (values: OptionValues): Partial<Record<string, string>> => {
  const filter: Record<string, string> = {};
  for (const [flag, { param }] of Object.entries(FILTERS)) {
    const value = stringOption(values, flag);
    if (value !== undefined) filter[param] = value;
  }
  return filter;
};

/** `--kind`, or every kind the given filters apply to (a filter of another kind rules that kind out). */
const kindsOf = (values: OptionValues): Kind[] => {
  const kind = stringOption(values, 'kind');
  const given = (Object.keys(FILTERS) as FilterFlag[]).filter(
    (flag) => stringOption(values, flag) !== undefined,
  );
  if (kind !== undefined) {
    if (!isKind(kind)) throw usageError(`--kind must be one of ${KINDS.join(', ')}`);
    const foreign = given.find((flag) => !(FILTERS[flag].kinds as readonly Kind[]).includes(kind));
    if (foreign !== undefined) throw usageError(`--${foreign} does not apply to ${kind} dead letters`);
    return [kind];
  }
  return KINDS.filter((k) => given.every((flag) => (FILTERS[flag].kinds as readonly Kind[]).includes(k)));
};

/**
 * One page of a kind, or undefined when the server keeps no dead letters of that kind and the kind was
 * not asked for by name (a standalone service keeps its own kinds only).
 */
const fetchPage = async (
  client: ConcordClient,
  options: { kind: Kind; named: boolean; limit: number; after: string | undefined; filter: object },
): Promise<Page | undefined> => {
  const response = await client.send({
    method: 'GET',
    path: '/v1/dead-letters',
    query: {
      kind: options.kind,
      limit: String(options.limit),
      after: options.after,
      ...(options.filter as Record<string, string>),
    },
  });
  const body = await readJson(response);
  if (response.ok) return body as Page;
  if (!options.named && serverErrorOf(body)?.code === SERVER_DEAD_LETTER_KIND_UNAVAILABLE) return undefined;
  throw httpFailure(response, body);
};

const describe = (letter: DeadLetter): string => {
  const where =
    letter.kind === 'webhook'
      ? `subscription=${letter.subscriptionId ?? '-'} ${letter.url ?? ''}`
      : `${letter.kind === 'bus' ? `group=${letter.group ?? '-'} ` : ''}${letter.topic ?? '-'} key=${letter.key ?? '-'}`;
  return `${letter.kind}:${letter.id} ${letter.deadLetteredAt} ${letter.errorCode} attempts=${letter.attempts} ${where} ${JSON.stringify(letter.error)}`;
};

/** Walks the pages of the kinds asked for; `each` gets every page (all of them with `all`, else the first). */
const walk = async (
  context: CommandContext,
  options: { kinds: readonly Kind[]; named: boolean; all: boolean; limit: number; after?: string },
  each: (page: Page) => void,
): Promise<void> => {
  const filter = filtersOf(context.values);
  for (const kind of options.kinds) {
    let after = options.after;
    for (;;) {
      const page = await fetchPage(context.client(), {
        kind,
        named: options.named,
        limit: options.limit,
        after,
        filter,
      });
      if (page === undefined) break;
      each(page);
      if (page.next === null || !options.all) break;
      after = page.next;
    }
  }
};

export const deadLettersList: Command = {
  path: ['dead-letters', 'list'],
  args: '',
  summary: 'dead letters of the outbox, the bus and webhooks, oldest first (GET /v1/dead-letters)',
  details: [
    'Prints one line per dead letter: `<kind>:<id> <dead-lettered at> <error code> attempts=<n>`, then the',
    'topic and key (outbox), the group, topic and key (bus) or the subscription and masked URL (webhook),',
    'and the last error. Without --kind, every kind the server keeps (a standalone service keeps its own',
    'outbox and groups; only the notifier and the all-in-one keep webhooks). None: says so on stderr.',
    'With --json, one page `{ kind, deadLetters, next }` per line. Needs the admin scope.',
  ],
  options: {
    ...FILTER_OPTIONS,
    limit: { type: 'string', value: 'n', description: 'dead letters per page, 1..1000 (default 100)' },
    after: { type: 'string', value: 'cursor', description: 'start after this cursor (with --kind)' },
    all: { type: 'boolean', description: 'follow `next` to the last page' },
  },
  positionals: { min: 0, max: 0 },
  async run(context) {
    const { io, global, values } = context;
    const kinds = kindsOf(values);
    const after = stringOption(values, 'after');
    if (after !== undefined && kinds.length !== 1) throw usageError('--after goes with --kind');
    const limit = intOption(stringOption(values, 'limit'), 'limit', { min: 1, max: 1000, fallback: 100 });
    const named = stringOption(values, 'kind') !== undefined;
    const all = booleanOption(values, 'all');
    let listed = 0;
    await walk(context, { kinds, named, all, limit, ...(after === undefined ? {} : { after }) }, (page) => {
      listed += page.deadLetters.length;
      if (global.json) writeJson(io.stdout, page);
      else for (const letter of page.deadLetters) writeLine(io.stdout, describe(letter));
    });
    // Said on stderr, so stdout stays one line per dead letter for scripts.
    if (listed === 0 && !global.json) writeLine(io.stderr, `no dead letters (${kinds.join(', ')})`);
    return ExitCode.ok;
  },
};

/** `<kind>:<id>`, or a bare id with `--kind`. */
const parseId = (text: string, kind: string | undefined): { kind: Kind; id: string } => {
  const colon = text.indexOf(':');
  const prefix = colon > 0 ? text.slice(0, colon) : '';
  if (isKind(prefix)) return { kind: prefix, id: text.slice(colon + 1) };
  if (kind !== undefined && isKind(kind)) return { kind, id: text };
  throw usageError(
    `${JSON.stringify(text)} names no kind: write <kind>:<id> (as list prints it) or give --kind`,
  );
};

const CHUNK = 1000;

export const deadLettersReplay: Command = {
  path: ['dead-letters', 'replay'],
  args: '<kind:id…> | --all',
  summary: 'put dead letters back to work (POST /v1/dead-letters/:kind/replay)',
  details: [
    'Replays the dead letters named (`<kind>:<id>` as list prints them, or ids with --kind), or with --all',
    'every one there is when the command starts (narrowed by --kind and the filters). Outbox and bus dead',
    'letters go back into the outbox with their message id, for their original topic: consumers that',
    'handled them already drop them, and they come after whatever their key got meanwhile. A webhook',
    'delivery is scheduled again with its delivery id (webhook-id) and a fresh budget of attempts.',
    'Prints `replayed`, `missing` or `refused` per dead letter and a summary; with --json, one object',
    '`{ replayed, missing, refused }` of `{ kind, id }`. Exit 1 when any was missing or refused.',
  ],
  options: {
    ...FILTER_OPTIONS,
    all: { type: 'boolean', description: 'every dead letter (matching the filters)' },
  },
  positionals: { min: 0, max: 100_000 },
  async run(context) {
    const { io, global, values, positionals } = context;
    const all = booleanOption(values, 'all');
    if (all === positionals.length > 0)
      throw usageError('dead-letters replay takes ids or --all, not both or neither');
    const wanted = new Map<Kind, string[]>();
    const add = (kind: Kind, id: string) => wanted.set(kind, [...(wanted.get(kind) ?? []), id]);
    if (all) {
      await walk(
        context,
        { kinds: kindsOf(values), named: stringOption(values, 'kind') !== undefined, all: true, limit: 1000 },
        (page) => {
          for (const letter of page.deadLetters) add(page.kind, letter.id);
        },
      );
    } else {
      const given = (Object.keys(FILTERS) as FilterFlag[]).find(
        (flag) => stringOption(values, flag) !== undefined,
      );
      if (given !== undefined) throw usageError(`--${given} goes with --all`);
      for (const text of positionals) {
        const { kind, id } = parseId(text, stringOption(values, 'kind'));
        add(kind, id);
      }
    }
    const result = { replayed: [] as object[], missing: [] as object[], refused: [] as object[] };
    for (const [kind, ids] of wanted) {
      for (let start = 0; start < ids.length; start += CHUNK) {
        const answer = await context.client().json<ReplayAnswer>({
          method: 'POST',
          path: `/v1/dead-letters/${kind}/replay`,
          body: { ids: ids.slice(start, start + CHUNK) },
        });
        for (const id of answer.replayed) {
          result.replayed.push({ kind, id });
          if (!global.json) writeLine(io.stdout, `replayed ${kind}:${id}`);
        }
        for (const id of answer.missing) {
          result.missing.push({ kind, id });
          if (!global.json)
            writeLine(io.stderr, `missing ${kind}:${id}: no such dead letter (replayed already?)`);
        }
        for (const { id, reason, message } of answer.refused) {
          result.refused.push({ kind, id, reason, message });
          if (!global.json) writeLine(io.stderr, `refused ${kind}:${id}: ${message}`);
        }
      }
    }
    if (global.json) writeJson(io.stdout, result);
    else {
      writeLine(
        io.stdout,
        `${result.replayed.length} replayed, ${result.missing.length} missing, ${result.refused.length} refused`,
      );
    }
    return result.missing.length + result.refused.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
};
