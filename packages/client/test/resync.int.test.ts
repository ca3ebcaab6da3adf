import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../src/index.js';
import { EmbeddedConcord } from './support/embedded.js';

let concord: EmbeddedConcord;

beforeAll(async () => {
  concord = await EmbeddedConcord.start(`client-resync-${process.pid}`);
}, 90_000);

afterAll(async () => {
  await concord.close();
});

/** Every applied event id of the server's feed, read from the start. */
const feedIds = async (): Promise<string[]> => {
  const page = (await (await fetch(`${concord.url}/v1/events?limit=1000`)).json()) as {
    events: { event: { id: string } }[];
  };
  return page.events.map((e) => e.event.id);
};

/**
 * A server restored from an older backup, or replaced, does not know a client's feed cursor: the client
 * reads its state again from the start and pushes its queue again, instead of pulling nothing forever
 * and having its changes rejected against versions the server never reached.
 */
describe('@concord/client when its server lost its data', () => {
  it('reads the state again from the start and pushes its queued changes again', async () => {
    const client = createClient({ url: concord.url, store: memoryStore(), origin: 'phone' });
    const resyncs: number[] = [];
    client.on('resync', ({ requeued }) => resyncs.push(requeued));
    try {
      await client.change({
        aggregateType: 'task',
        aggregateId: 't-1',
        type: 'TaskCreated',
        data: { title: 'a' },
      });
      await client.change({
        aggregateType: 'task',
        aggregateId: 't-1',
        type: 'TaskUpdated',
        data: { done: true },
      });
      await client.sync();
      expect(await client.get('task', 't-1')).toMatchObject({ version: 2, pending: 0 });

      // Made against version 2, then the server loses everything.
      const later = await client.change({
        aggregateType: 'task',
        aggregateId: 't-1',
        type: 'TaskUpdated',
        data: { title: 'b' },
      });
      await concord.stop();
      for (const entry of readdirSync(concord.dataDir))
        rmSync(join(concord.dataDir, entry), { recursive: true });
      await concord.start();
      expect(await feedIds()).toEqual([]);

      const result = await client.sync();
      expect(resyncs).toEqual([1]);
      expect(result.pushed).toEqual([
        expect.objectContaining({ id: later.id, outcome: 'applied', version: 1 }),
      ]);
      expect(await feedIds()).toEqual([later.id]);
      // What the server holds now: its version 1, the title the queued change set.
      expect(await client.get('task', 't-1')).toEqual({
        aggregateType: 'task',
        aggregateId: 't-1',
        version: 1,
        fields: { title: 'b' },
        pending: 0,
      });

      // The cursor works again: another writer's change arrives.
      const other = createClient({ url: concord.url, store: memoryStore(), origin: 'laptop' });
      await other.sync();
      await other.change({
        aggregateType: 'task',
        aggregateId: 't-1',
        type: 'TaskUpdated',
        data: { done: false },
      });
      await other.sync();
      await other.close();
      await client.sync();
      expect(await client.get('task', 't-1')).toMatchObject({
        version: 2,
        fields: { title: 'b', done: false },
      });
      expect(resyncs).toEqual([1]);
    } finally {
      await client.close();
    }
  });
});
