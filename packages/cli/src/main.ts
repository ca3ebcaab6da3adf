#!/usr/bin/env node
/**
 * `concord`: Concord's command line (README). The composition root: the real process's streams,
 * environment, clock and signals go to `runCli`, and its result is the exit code.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { runCli } from './cli.js';
import { COMMANDS } from './commands/index.js';

const controller = new AbortController();
let interrupted = 0;
const interrupt = () => {
  interrupted += 1;
  // A second Ctrl-C does not wait for the command to wind down.
  if (interrupted > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

process.exitCode = await runCli(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      await delay(ms, undefined, signal === undefined ? {} : { signal });
    },
    signal: controller.signal,
  },
  COMMANDS,
);
// Open handles (a broker client's timers, a kept-alive socket) must not hold the exit; what was written
// to a pipe is flushed first.
process.stdout.write('', () => process.stderr.write('', () => process.exit()));
