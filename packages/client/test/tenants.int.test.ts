import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../src/index.js';
import type { ConcordClient } from '../src/index.js';
import { EmbeddedConcord } from './support/embedded.js';
import { eventually } from './support/eventually.js';

const dir = mkdtempSync(join(tmpdir(), 'concord-client-tenants-'));
const KEYS = { acme: 'ck_acme_0123456789abcdef', globex: 'ck_globex_0123456789abcdef' } as const;
const SCOPES = '[events:write, events:read, conflicts:decide]';
let concord: EmbeddedConcord;

beforeAll(async () => {
  const keysFile = join(dir, 'keys.yaml');
  writeFileSync(
    keysFile,
    Object.entries(KEYS)
      .map(
        ([tenant, key]) =>
          `- { key: ${key}, subject: ${tenant}-app, scopes: ${SCOPES}, tenant: ${tenant} }\n`,
      )
      .join(''),
  );
  concord = await EmbeddedConcord.start(`client-tenants-${process.pid}`, {
    CONCORD_AUTH_API_KEYS_FILE: keysFile,
  });
}, 90_000);

afterAll(async () => {
  await concord.close();
  rmSync(dir, { recursive: true, force: true });
});

const clientOf = (tenant: keyof typeof KEYS, origin: string): ConcordClient =>
  createClient({
    url: concord.url,
    store: memoryStore(),
    origin,
    token: KEYS[tenant],
    autosync: { pollIntervalMs: 60_000 },
  });

/**
 * Two apps of two tenants use the same task id against one Concord: each syncs, streams and sees its own
 * task only (DESIGN §5 "Tenants").
 */
describe('@concord/client with tenants', () => {
  it('keeps each tenant’s task of the same id apart, through push, pull and the stream', async () => {
    const taskId = `task-${process.pid}-${Date.now()}`;
    const acme = clientOf('acme', 'acme-phone');
    const acmeLaptop = clientOf('acme', 'acme-laptop');
    const globex = clientOf('globex', 'globex-phone');
    try {
      await acme.change({
        aggregateType: 'task',
        aggregateId: taskId,
        type: 'TaskCreated',
        data: { title: 'acme' },
      });
      await globex.change({
        aggregateType: 'task',
        aggregateId: taskId,
        type: 'TaskCreated',
        data: { title: 'globex' },
      });
      const pushed = await Promise.all([acme.sync(), globex.sync()]);
      // Two aggregates: each create applies as version 1, not as a conflict with the other tenant's.
      for (const result of pushed)
        expect(result.pushed).toEqual([expect.objectContaining({ outcome: 'applied' })]);
      expect(await acme.get('task', taskId)).toMatchObject({ version: 1, fields: { title: 'acme' } });
      expect(await globex.get('task', taskId)).toMatchObject({ version: 1, fields: { title: 'globex' } });

      // Realtime: acme's laptop hears acme's next change over the stream; globex hears nothing of it.
      const globexChanges: string[] = [];
      globex.on('change', (change) => globexChanges.push(change.aggregateId));
      await acmeLaptop.sync();
      acmeLaptop.start();
      globex.start();
      await eventually(
        () => Promise.resolve(acmeLaptop.status().streaming && globex.status().streaming ? true : undefined),
        { what: 'both streams' },
      );
      await acme.change({
        aggregateType: 'task',
        aggregateId: taskId,
        type: 'TaskUpdated',
        data: { title: 'acme 2' },
      });
      await acme.sync();
      await eventually(
        async () => ((await acmeLaptop.get('task', taskId))?.fields['title'] === 'acme 2' ? true : undefined),
        { what: 'acme’s change on acme’s laptop' },
      );
      await globex.sync();
      expect(await globex.get('task', taskId)).toMatchObject({ version: 1, fields: { title: 'globex' } });
      expect(globexChanges).toEqual([]);
    } finally {
      await Promise.all([acme.close(), acmeLaptop.close(), globex.close()]);
    }
  });
});
