import type { Command } from '../command.js';
import { ExitCode } from '../errors.js';
import { writeJson, writePretty } from '../io.js';

export const aggregatesGet: Command = {
  path: ['aggregates', 'get'],
  args: '<type> <id>',
  summary: "an aggregate's projected state, version and field versions (GET /v1/aggregates/:type/:id)",
  options: {},
  positionals: { min: 2, max: 2 },
  async run({ io, global, positionals, client }) {
    const [type = '', id = ''] = positionals;
    const aggregate = await client().json<unknown>({
      method: 'GET',
      path: `/v1/aggregates/${encodeURIComponent(type)}/${encodeURIComponent(id)}`,
    });
    (global.json ? writeJson : writePretty)(io.stdout, aggregate);
    return ExitCode.ok;
  },
};
