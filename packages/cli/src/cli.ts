import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import type { Command, CommandContext, GlobalOptions, OptionSpec } from './command.js';
import { booleanOption, stringOption } from './command.js';
import { CliError, ExitCode, usageError } from './errors.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { createClient } from './http.js';
import type { ConcordClient } from './http.js';
import type { CliIo } from './io.js';
import { writeJson, writeLine } from './io.js';
import { DEFAULT_URL, GLOBAL_OPTIONS } from './options.js';

const parseConfig = (options: Readonly<Record<string, OptionSpec>>): ParseArgsOptionsConfig =>
  Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.multiple === true ? { multiple: true } : {}),
        ...(spec.short === undefined ? {} : { short: spec.short }),
      },
    ]),
  );

/** The command the leading words name (the longest match), and the words left over. */
const select = (commands: readonly Command[], words: readonly string[]): Command | undefined =>
  commands
    .filter((c) => c.path.every((word, i) => words[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];

/** Where a failure goes: a JSON error object on stdout with `--json`, else a line on stderr. */
const report = (io: CliIo, json: boolean, error: CliError): void => {
  if (json) {
    writeJson(io.stdout, {
      error: {
        ...(error.code === undefined ? {} : { code: error.code }),
        message: error.message,
        exitCode: error.exitCode,
        ...(error.details === undefined ? {} : { details: error.details }),
      },
    });
  } else {
    writeLine(io.stderr, `concord: ${error.message}`);
  }
};

/** Runs `concord <argv…>` and returns its exit code; never throws for a command's failure. */
export const runCli = async (
  argv: readonly string[],
  io: CliIo,
  commands: readonly Command[],
): Promise<number> => {
  const args = argv.filter((arg, i) => !(arg === '--' && i === 0));
  const words: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  const json = args.includes('--json');
  const command = select(commands, words);
  const wantsHelp = args.includes('--help') || args.includes('-h');
  if (command === undefined) {
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (words.length === 0 || (words.length === 1 && group.length > 0)) {
      const text = words.length === 0 ? mainHelp(commands) : groupHelp(words[0] ?? '', group);
      // `concord` alone or `concord conflicts` alone is a usage error that shows the help; asked for, it is not.
      (wantsHelp ? io.stdout : io.stderr).write(text);
      return wantsHelp ? ExitCode.ok : ExitCode.usage;
    }
    report(io, json, usageError(`unknown command "${words.join(' ')}" (see concord --help)`));
    return ExitCode.usage;
  }
  if (wantsHelp) {
    io.stdout.write(commandHelp(command));
    return ExitCode.ok;
  }
  try {
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: args.slice(command.path.length),
        options: parseConfig({ ...GLOBAL_OPTIONS, ...command.options }),
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw usageError(`${(error as Error).message} (see concord ${command.path.join(' ')} --help)`);
    }
    const { values, positionals } = parsed;
    const { min, max } = command.positionals;
    if (positionals.length < min || positionals.length > max) {
      throw usageError(
        `${command.path.join(' ')} takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}: concord ${command.path.join(' ')} ${command.args}`,
      );
    }
    const global: GlobalOptions = {
      url: stringOption(values, 'url') ?? (io.env.CONCORD_URL || DEFAULT_URL),
      token: stringOption(values, 'token') ?? (io.env.CONCORD_TOKEN || undefined),
      json: booleanOption(values, 'json'),
    };
    try {
      new URL(global.url);
    } catch {
      throw usageError(`--url must be a URL: ${JSON.stringify(global.url)}`);
    }
    let client: ConcordClient | undefined;
    const context: CommandContext = {
      io,
      global,
      values,
      positionals,
      client: () => (client ??= createClient({ url: global.url, token: global.token })),
    };
    return await command.run(context);
  } catch (error) {
    if (error instanceof CliError) {
      report(io, json, error);
      return error.exitCode;
    }
    if (io.signal.aborted) return ExitCode.failed;
    report(
      io,
      json,
      new CliError(ExitCode.failed, error instanceof Error ? error.message : String(error), { cause: error }),
    );
    return ExitCode.failed;
  }
};
