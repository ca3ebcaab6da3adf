import { describe, expect, it } from 'vitest';
import type { ClientStore } from '../../src/index.js';
import type { PendingChange } from '../../src/types.js';

/** Makes a fresh store, and `reopen` makes another handle on the same data (a restart). */
export interface StoreFixture {
  readonly store: ClientStore;
  readonly reopen: () => ClientStore;
}

const change = (seq: number, status: PendingChange['status'] = 'queued'): PendingChange => ({
  seq,
  id: `id-${seq}`,
  aggregateType: 'task',
  aggregateId: `t${seq % 2}`,
  type: 'TaskUpdated',
  data: { title: `title ${seq}`, tags: ['a', 'b'], nested: { n: seq, none: null } },
  metadata: { source: 'test' },
  baseVersion: seq,
  hlc: `00000000000000${seq}-000000-o`,
  origin: 'o',
  status,
});

const bySeq = (changes: readonly PendingChange[]) => [...changes].sort((a, b) => a.seq - b.seq);

/** The contract every client store meets (memory, IndexedDB, file). */
export const storeContract = (name: string, fixture: () => Promise<StoreFixture> | StoreFixture): void => {
  describe(`${name} store contract`, () => {
    it('starts empty', async () => {
      const { store } = await fixture();
      expect(await store.load()).toEqual({ cursor: undefined, hlc: undefined, pending: [], aggregates: [] });
      await store.close();
    });

    it('keeps queue, aggregates, cursor and clock across a restart', async () => {
      const { store, reopen } = await fixture();
      await store.write({ putPending: [change(1), change(2), change(3)], hlc: 'h1' });
      await store.write({
        putAggregates: [{ aggregateType: 'task', aggregateId: 't1', version: 4, fields: { title: 'x' } }],
        cursor: 'c1',
      });
      await store.write({ deletePending: ['id-2'], putPending: [change(3, 'sent')], cursor: 'c2' });
      await store.close();
      const again = reopen();
      const state = await again.load();
      expect(bySeq(state.pending)).toEqual([change(1), change(3, 'sent')]);
      expect(state.aggregates).toEqual([
        { aggregateType: 'task', aggregateId: 't1', version: 4, fields: { title: 'x' } },
      ]);
      expect(state.cursor).toBe('c2');
      expect(state.hlc).toBe('h1');
      await again.close();
    });

    it('clears every aggregate and the cursor in one write, beside the other changes of that write', async () => {
      const { store, reopen } = await fixture();
      await store.write({
        putPending: [change(1)],
        putAggregates: [
          { aggregateType: 'task', aggregateId: 'a', version: 3, fields: { a: 1 } },
          { aggregateType: 'task', aggregateId: 'b', version: 1, fields: { b: 1 } },
        ],
        cursor: 'c1',
      });
      await store.write({
        clearAggregates: true,
        cursor: null,
        putPending: [change(1, 'sent')],
        putAggregates: [{ aggregateType: 'task', aggregateId: 'b', version: 1, fields: { b: 2 } }],
      });
      await store.close();
      const again = reopen();
      expect(await again.load()).toEqual({
        cursor: undefined,
        hlc: undefined,
        pending: [change(1, 'sent')],
        aggregates: [{ aggregateType: 'task', aggregateId: 'b', version: 1, fields: { b: 2 } }],
      });
      await again.close();
    });

    it('replaces an aggregate and keeps aggregates of the same id in two types apart', async () => {
      const { store } = await fixture();
      await store.write({
        putAggregates: [
          { aggregateType: 'task', aggregateId: 'x', version: 1, fields: { a: 1 } },
          { aggregateType: 'note', aggregateId: 'x', version: 1, fields: { b: 1 } },
        ],
      });
      await store.write({
        putAggregates: [{ aggregateType: 'task', aggregateId: 'x', version: 2, fields: { a: 2 } }],
      });
      const { aggregates } = await store.load();
      expect([...aggregates].sort((p, q) => p.aggregateType.localeCompare(q.aggregateType))).toEqual([
        { aggregateType: 'note', aggregateId: 'x', version: 1, fields: { b: 1 } },
        { aggregateType: 'task', aggregateId: 'x', version: 2, fields: { a: 2 } },
      ]);
      await store.close();
    });

    it('hands out copies: changing what load returned changes nothing stored', async () => {
      const { store } = await fixture();
      await store.write({ putPending: [change(1)] });
      const first = await store.load();
      (first.pending as PendingChange[]).length = 0;
      expect((await store.load()).pending).toEqual([change(1)]);
      await store.close();
    });
  });
};
