import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStore } from '../src/node/index.js';
import { storeContract } from './support/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'concord-client-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

storeContract('file', () => {
  const path = join(dir, `store-${++files}.json`);
  return { store: fileStore(path), reopen: () => fileStore(path) };
});

describe('fileStore', () => {
  it('writes by rename: no temporary file is left, and the file always parses', async () => {
    const path = join(dir, 'atomic.json');
    const store = fileStore(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write({ cursor: `c${i}` })));
    expect(readdirSync(dir).filter((name) => name.startsWith('.atomic.json'))).toEqual([]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ cursor: 'c19' });
    expect((await fileStore(path).load()).cursor).toBe('c19');
  });

  it('refuses a file that is not a client store rather than overwriting it', async () => {
    const path = join(dir, 'foreign.json');
    writeFileSync(path, '{"something":"else"}');
    await expect(fileStore(path).load()).rejects.toMatchObject({ code: 'CONCORD_CLIENT_STORE' });
  });

  it('reports a directory that cannot be written', async () => {
    const store = fileStore(join(dir, 'missing', 'store.json'));
    await expect(store.write({ cursor: 'c' })).rejects.toMatchObject({ code: 'CONCORD_CLIENT_STORE' });
  });
});
