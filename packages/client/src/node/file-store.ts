import { randomUUID } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { clientErrors, ConcordClientError } from '../errors.js';
import type { ClientStore, StoredState } from '../store/port.js';
import { EMPTY_STATE, applyWrite } from '../store/port.js';

const FORMAT = 'concord-client-store/1';

interface FileContent extends StoredState {
  readonly format: typeof FORMAT;
}

const parse = (text: string, path: string): StoredState => {
  const content = JSON.parse(text) as Partial<FileContent>;
  if (content.format !== FORMAT || !Array.isArray(content.pending) || !Array.isArray(content.aggregates)) {
    throw new ConcordClientError(clientErrors.CLIENT_STORE, `${path} is not a Concord client store`);
  }
  return {
    cursor: content.cursor ?? undefined,
    hlc: content.hlc ?? undefined,
    pending: content.pending,
    aggregates: content.aggregates,
  };
};

/**
 * A store in one JSON file (Node only). Every write replaces the file atomically — the new content
 * goes to a temporary file beside it, is flushed to disk, and is renamed over the old one — so a crash
 * leaves either the state before the write or the state after it, never a torn file.
 */
export const fileStore = (path: string): ClientStore => {
  let state: StoredState | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  const read = async (): Promise<StoredState> => {
    try {
      return parse(await readFile(path, 'utf8'), path);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return EMPTY_STATE;
      throw new ConcordClientError(clientErrors.CLIENT_STORE, `cannot read ${path}`, { cause: error });
    }
  };

  const persist = async (next: StoredState): Promise<void> => {
    const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
    const content: FileContent = { format: FORMAT, ...next };
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify(content));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw new ConcordClientError(clientErrors.CLIENT_STORE, `cannot write ${path}`, { cause: error });
    }
  };

  /** Loads and writes run one after another, in call order. */
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = chain.then(task);
    chain = run.catch(() => undefined);
    return run;
  };

  return {
    load: () =>
      serial(async () => {
        state = await read();
        return structuredClone(state);
      }),
    write: (batch) =>
      serial(async () => {
        const next = applyWrite(state ?? (await read()), structuredClone(batch));
        await persist(next);
        state = next;
      }),
    close: () => serial(() => Promise.resolve()),
  };
};
