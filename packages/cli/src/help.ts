import type { Command, OptionSpec } from './command.js';
import { GLOBAL_OPTIONS } from './options.js';

const EXIT_CODES = [
  'Exit codes:',
  '  0  done',
  '  1  the server refused something (a rejected event, an invalid policy, an error answer) or a check failed',
  '  2  usage: unknown command or option, missing argument, unreadable input',
  '  3  the server or broker could not be reached',
];

const optionLines = (options: Readonly<Record<string, OptionSpec>>): string[] => {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.value === undefined ? '' : ` <${spec.value}>`}`;
    return [flag, `${spec.description}${spec.multiple === true ? ' (repeatable)' : ''}`] as const;
  });
  const width = Math.max(0, ...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
};

const commandRows = (commands: readonly Command[]): string[] => {
  const rows = commands.map((c) => [`${c.path.join(' ')} ${c.args}`.trim(), c.summary] as const);
  const width = Math.max(0, ...rows.map(([usage]) => usage.length));
  return rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`);
};

/** `concord --help`: every command. */
export const mainHelp = (commands: readonly Command[]): string =>
  [
    'Usage: concord <command> [options]',
    '',
    "Concord's command line: publish events, follow notifications, inspect and decide conflicts,",
    'check policies, migrate the database. `concord <command> --help` tells more.',
    '',
    'Commands:',
    ...commandRows(commands),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...EXIT_CODES,
    '',
  ].join('\n');

/** `concord <group> --help`: the commands under one word, e.g. `conflicts`. */
export const groupHelp = (group: string, commands: readonly Command[]): string =>
  [`Usage: concord ${group} <command> [options]`, '', 'Commands:', ...commandRows(commands), ''].join('\n');

/** `concord <command> --help`. */
export const commandHelp = (command: Command): string =>
  [
    `Usage: concord ${command.path.join(' ')}${command.args === '' ? '' : ` ${command.args}`} [options]`,
    '',
    command.summary,
    ...(command.details === undefined ? [] : ['', ...command.details]),
    '',
    ...(Object.keys(command.options).length === 0 ? [] : ['Options:', ...optionLines(command.options), '']),
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...EXIT_CODES,
    '',
  ].join('\n');
