import { clientErrors, ConcordClientError } from '../errors.js';
import type { ConfirmedAggregate, PendingChange } from '../types.js';
import type { IdbDatabase, IdbFactory, IdbRequest, IdbTransaction } from './idb-types.js';
import type { ClientStore, StoredState } from './port.js';
import { aggregateKey } from './port.js';

const VERSION = 1;
const PENDING = 'pending';
const AGGREGATES = 'aggregates';
const META = 'meta';
const ALL = [PENDING, AGGREGATES, META];

export interface IndexedDbStoreOptions {
  /** The IndexedDB factory; default the global `indexedDB`. */
  readonly indexedDB?: IdbFactory;
}

const storeError = (message: string, cause: unknown): ConcordClientError =>
  new ConcordClientError(clientErrors.CLIENT_STORE, message, { cause });

const request = <T>(req: IdbRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(storeError('IndexedDB request failed', req.error));
  });

const completion = (tx: IdbTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(storeError('IndexedDB transaction failed', tx.error));
    tx.onabort = () => reject(storeError('IndexedDB transaction aborted', tx.error));
  });

const openDatabase = (factory: IdbFactory, name: string): Promise<IdbDatabase> =>
  new Promise((resolve, reject) => {
    const open = factory.open(name, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(PENDING)) db.createObjectStore(PENDING, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(AGGREGATES)) db.createObjectStore(AGGREGATES, { keyPath: 'key' });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: 'name' });
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(storeError(`cannot open IndexedDB database ${name}`, open.error));
    open.onblocked = () =>
      reject(storeError(`IndexedDB database ${name} is held open by an older version elsewhere`, undefined));
  });

interface MetaRow {
  readonly name: 'cursor' | 'hlc';
  readonly value: string;
}

/**
 * A store in the browser's IndexedDB database `name`: the queue, the confirmed aggregates and the
 * cursor in three object stores; every write is one transaction over all three.
 */
export const indexedDbStore = (name: string, options: IndexedDbStoreOptions = {}): ClientStore => {
  let db: Promise<IdbDatabase> | undefined;
  const database = (): Promise<IdbDatabase> => {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IdbFactory }).indexedDB;
    if (factory === undefined) {
      return Promise.reject(
        new ConcordClientError(clientErrors.CLIENT_STORE, 'IndexedDB is not available here'),
      );
    }
    db ??= openDatabase(factory, name);
    return db;
  };

  return {
    async load(): Promise<StoredState> {
      const tx = (await database()).transaction(ALL, 'readonly');
      const [pending, aggregates, meta] = await Promise.all([
        request(tx.objectStore(PENDING).getAll()),
        request(tx.objectStore(AGGREGATES).getAll()),
        request(tx.objectStore(META).getAll()),
      ]);
      const metaValue = (key: MetaRow['name']) => (meta as MetaRow[]).find((row) => row.name === key)?.value;
      return {
        cursor: metaValue('cursor'),
        hlc: metaValue('hlc'),
        pending: pending as PendingChange[],
        aggregates: (aggregates as (ConfirmedAggregate & { key?: string })[]).map(
          ({ key: _key, ...aggregate }) => aggregate,
        ),
      };
    },
    async write(batch) {
      const tx = (await database()).transaction(ALL, 'readwrite');
      const done = completion(tx);
      const pending = tx.objectStore(PENDING);
      for (const id of batch.deletePending ?? []) pending.delete(id);
      for (const change of batch.putPending ?? []) pending.put(change);
      const aggregates = tx.objectStore(AGGREGATES);
      if (batch.clearAggregates === true) aggregates.clear();
      for (const a of batch.putAggregates ?? []) {
        aggregates.put({ key: aggregateKey(a.aggregateType, a.aggregateId), ...a });
      }
      const meta = tx.objectStore(META);
      if (batch.cursor === null) meta.delete('cursor');
      else if (batch.cursor !== undefined)
        meta.put({ name: 'cursor', value: batch.cursor } satisfies MetaRow);
      if (batch.hlc !== undefined) meta.put({ name: 'hlc', value: batch.hlc } satisfies MetaRow);
      await done;
    },
    async close() {
      const open = db;
      db = undefined;
      if (open !== undefined) (await open).close();
    },
  };
};
