import { defineErrors } from '@concord/core';

/**
 * The exit codes of `concord` (README): scripts branch on them.
 * - 0: done; every event accepted, every check passed.
 * - 1: the server refused something (a rejected event, an invalid policy, a 4xx/5xx answer) or a
 *   check failed.
 * - 2: usage: an unknown command or option, a missing argument, an unreadable input file.
 * - 3: the server (or broker) could not be reached.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The CLI's own codes (the server's and the bus's come from their tables). */
export const cliErrors = defineErrors({
  CLI_UNREACHABLE: {
    code: 'CONCORD_CLI_UNREACHABLE',
    retryable: true,
    message: 'CLI: the server could not be reached (exit code 3).',
  },
});

/**
 * A server's code the CLI branches on (service-kit's `CONCORD_DEAD_LETTER_KIND_UNAVAILABLE`): a service
 * that keeps no dead letters of a kind.
 */
export const SERVER_DEAD_LETTER_KIND_UNAVAILABLE = 'CONCORD_DEAD_LETTER_KIND_UNAVAILABLE';

/** An error that ends the command with `exitCode`; its message is printed as `concord: <message>`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly code: string | undefined;
  readonly details: unknown;

  constructor(
    exitCode: ExitCode,
    message: string,
    options: { cause?: unknown; code?: string; details?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = options.code;
    this.details = options.details;
  }
}

export const usageError = (message: string): CliError => new CliError(ExitCode.usage, message);
