import type { ConcordClient } from './http.js';
import type { CliIo } from './io.js';

/** One option of a command, as `node:util` `parseArgs` takes it, with its help text. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Shown in help as `--name <value>`. */
  readonly value?: string;
  readonly description: string;
}

export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** The options every command takes: where the server is, how to authenticate, how to print. */
export interface GlobalOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly json: boolean;
}

export interface CommandContext {
  readonly io: CliIo;
  readonly global: GlobalOptions;
  readonly values: OptionValues;
  readonly positionals: readonly string[];
  /** The HTTP client of `global.url`, made on first use. */
  readonly client: () => ConcordClient;
}

export interface Command {
  /** Words that select it, e.g. `['conflicts', 'decide']`. */
  readonly path: readonly string[];
  /** The arguments after the words, for the usage line, e.g. `<id>`. */
  readonly args: string;
  readonly summary: string;
  /** More lines of help (what it prints, its exit codes when they differ). */
  readonly details?: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** How many positionals it takes, at least and at most. */
  readonly positionals: { readonly min: number; readonly max: number };
  run(context: CommandContext): Promise<number>;
}

/** A string option's value (the last one when repeated), or undefined. */
export const stringOption = (values: OptionValues, name: string): string | undefined => {
  const value = values[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const last = value.at(-1);
    return typeof last === 'string' ? last : undefined;
  }
  return undefined;
};

/** Every value of a repeatable option, each split at commas. */
export const listOption = (values: OptionValues, name: string): string[] => {
  const value = values[name];
  const raw = typeof value === 'string' ? [value] : Array.isArray(value) ? value.map(String) : [];
  return raw
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
};

export const booleanOption = (values: OptionValues, name: string): boolean => values[name] === true;
