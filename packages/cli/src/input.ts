import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { usageError } from './errors.js';
import type { CliIo } from './io.js';

/** A file's text, or stdin's when the name is `-` (or absent and stdin is not a terminal). */
export const readInput = async (
  io: CliIo,
  file: string | undefined,
): Promise<{ name: string; text: string }> => {
  if (file === undefined || file === '-') {
    if (file === undefined && io.stdin.isTTY === true) {
      throw usageError('no input: name a file, or pipe events in (use - for stdin)');
    }
    return { name: '<stdin>', text: await text(io.stdin) };
  }
  try {
    return { name: file, text: await readFile(resolve(io.cwd, file), 'utf8') };
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as Error).message}`);
  }
};
