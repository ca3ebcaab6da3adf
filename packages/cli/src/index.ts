export { runCli } from './cli.js';
export { COMMANDS } from './commands/index.js';
export type { Command, CommandContext, GlobalOptions, OptionSpec } from './command.js';
export { CliError, ExitCode } from './errors.js';
export type { CliIo, Output } from './io.js';
export { createClient } from './http.js';
export type { ClientOptions, ConcordClient, HttpRequest } from './http.js';
export { policyLocator } from './policy-locations.js';
export type { Location, PolicyLocator, SyntaxProblem } from './policy-locations.js';
