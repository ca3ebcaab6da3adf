import type { Command } from '../command.js';
import { booleanOption, stringOption } from '../command.js';
import { ExitCode, usageError } from '../errors.js';
import { writeJson, writeLine, writePretty } from '../io.js';
import { intOption, jsonOption } from '../options.js';

interface ConflictSummary {
  readonly id: string;
  readonly status: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly rule: string | null;
  readonly strategy: string | null;
  readonly fields: readonly string[];
}

interface ConflictPage {
  readonly conflicts: readonly ConflictSummary[];
  readonly next: string | null;
}

const STATUSES = ['pending_review', 'resolved', 'rejected'];

export const conflictsList: Command = {
  path: ['conflicts', 'list'],
  args: '',
  summary: 'recorded conflicts, oldest first (GET /v1/conflicts)',
  details: [
    'Prints one line per conflict (`<id> <status> <aggregate type>/<id> <rule> <strategy> <fields>`);',
    'with --json, one page `{ conflicts, next }` per line.',
  ],
  options: {
    status: { type: 'string', value: 'status', description: `only these: ${STATUSES.join(', ')}` },
    limit: { type: 'string', value: 'n', description: 'conflicts per page, 1..500 (default 50)' },
    after: { type: 'string', value: 'cursor', description: 'start after this cursor' },
    all: { type: 'boolean', description: 'follow `next` to the last page' },
  },
  positionals: { min: 0, max: 0 },
  async run({ io, global, values, client }) {
    const status = stringOption(values, 'status');
    if (status !== undefined && !STATUSES.includes(status)) {
      throw usageError(`--status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = intOption(stringOption(values, 'limit'), 'limit', { min: 1, max: 500, fallback: 50 });
    let after = stringOption(values, 'after');
    for (;;) {
      const page = await client().json<ConflictPage>({
        method: 'GET',
        path: '/v1/conflicts',
        query: { status, limit: String(limit), after },
      });
      if (global.json) writeJson(io.stdout, page);
      else {
        for (const c of page.conflicts) {
          writeLine(
            io.stdout,
            `${c.id} ${c.status} ${c.aggregateType}/${c.aggregateId} ${c.rule ?? '-'} ${c.strategy ?? '-'} ${c.fields.join(',')}`,
          );
        }
      }
      if (page.next === null || !booleanOption(values, 'all')) break;
      after = page.next;
    }
    return ExitCode.ok;
  },
};

export const conflictsShow: Command = {
  path: ['conflicts', 'show'],
  args: '<id>',
  summary: 'a conflict with its explanation and ledger (GET /v1/conflicts/:id)',
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ io, global, positionals, client }) {
    const id = positionals[0] ?? '';
    const conflict = await client().json<unknown>({
      method: 'GET',
      path: `/v1/conflicts/${encodeURIComponent(id)}`,
    });
    (global.json ? writeJson : writePretty)(io.stdout, conflict);
    return ExitCode.ok;
  },
};

export const conflictsDecide: Command = {
  path: ['conflicts', 'decide'],
  args: '<id>',
  summary: "a person's decision on a conflict in review (POST /v1/conflicts/:id/decision)",
  details: [
    'Either --choose (one side for every field) or --fields (per field: "local", "remote" or',
    '{"value": …}), and --user. Prints the conflict as decided.',
  ],
  options: {
    choose: { type: 'string', value: 'local|remote', description: 'take one side for every field' },
    fields: {
      type: 'string',
      value: 'json',
      description: 'per field, e.g. \'{"price":"remote","title":{"value":"x"}}\'',
    },
    user: { type: 'string', value: 'id', description: 'who decides (required)' },
    note: { type: 'string', value: 'text', description: 'why, kept in the ledger' },
  },
  positionals: { min: 1, max: 1 },
  async run({ io, global, values, positionals, client }) {
    const id = positionals[0] ?? '';
    const choose = stringOption(values, 'choose');
    const fields = stringOption(values, 'fields');
    const user = stringOption(values, 'user');
    const note = stringOption(values, 'note');
    if ((choose === undefined) === (fields === undefined)) {
      throw usageError('conflicts decide takes either --choose local|remote or --fields <json>');
    }
    if (choose !== undefined && choose !== 'local' && choose !== 'remote') {
      throw usageError('--choose must be local or remote');
    }
    if (user === undefined || user === '') throw usageError('conflicts decide needs --user <id>');
    const body = {
      ...(choose === undefined ? {} : { choose }),
      ...(fields === undefined ? {} : { fields: jsonOption(fields, 'fields') }),
      userId: user,
      ...(note === undefined ? {} : { note }),
    };
    const decided = await client().json<unknown>({
      method: 'POST',
      path: `/v1/conflicts/${encodeURIComponent(id)}/decision`,
      body,
    });
    (global.json ? writeJson : writePretty)(io.stdout, decided);
    return ExitCode.ok;
  },
};
