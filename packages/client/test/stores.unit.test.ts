import 'fake-indexeddb/auto';
import { indexedDbStore, memoryStore } from '../src/index.js';
import { storeContract } from './support/store-contract.js';

storeContract('memory', () => {
  const store = memoryStore();
  return { store, reopen: () => store };
});

// fake-indexeddb installs `indexedDB` as the global a browser has; the store finds it there.
let databases = 0;
storeContract('IndexedDB', () => {
  const name = `concord-client-${++databases}`;
  return { store: indexedDbStore(name), reopen: () => indexedDbStore(name) };
});
