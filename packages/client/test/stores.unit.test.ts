import { IDBFactory } from 'fake-indexeddb';
import { memoryStore, indexedDbStore } from '../src/index.js';
import { storeContract } from './support/store-contract.js';

storeContract('memory', () => {
  const store = memoryStore();
  return { store, reopen: () => store };
});

let databases = 0;
storeContract('IndexedDB', () => {
  const factory = new IDBFactory();
  const name = `concord-${++databases}`;
  return {
    store: indexedDbStore(name, { indexedDB: factory }),
    reopen: () => indexedDbStore(name, { indexedDB: factory }),
  };
});
