/** `@concord/client`: the browser-safe entry (no Node built-ins). `fileStore` is in `@concord/client/node`. */
export { createClient } from './client.js';
export type { ClientEvents, ClientOptions, ConcordClient } from './client-api.js';
export type { AutosyncOptions } from './autosync.js';
export type { Unsubscribe } from './emitter.js';
export { clientErrors, ConcordClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type { Fetch, TokenSource } from './http.js';
export { memoryStore } from './store/memory.js';
export { indexedDbStore } from './store/indexeddb.js';
export type { IndexedDbStoreOptions } from './store/indexeddb.js';
export type { IdbFactory } from './store/idb-types.js';
export type { ClientStore, StoredState, StoreWrite } from './store/port.js';
export type {
  ChangeInput,
  ClientStatus,
  ConfirmedAggregate,
  JsonObject,
  JsonValue,
  LocalAggregate,
  Outcome,
  OutcomeNotice,
  PendingChange,
  PendingStatus,
  PulledEvent,
  PushResult,
  SyncResult,
} from './types.js';
