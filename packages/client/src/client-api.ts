import type { AutosyncOptions } from './autosync.js';
import type { Unsubscribe } from './emitter.js';
import type { ConcordClientError } from './errors.js';
import type { Fetch, TokenSource } from './http.js';
import type { ClientStore } from './store/port.js';
import type {
  ChangeInput,
  ClientStatus,
  LocalAggregate,
  OutcomeNotice,
  PendingChange,
  SyncResult,
} from './types.js';

/** The client's public surface: how it is created, what it does, what it tells its listeners. */

export interface ClientOptions {
  /** Concord's HTTP API, e.g. `http://localhost:8080`. */
  readonly url: string;
  readonly store: ClientStore;
  /** This writer's id (`origin` of its events, the node of its HLC stamps). */
  readonly origin: string;
  readonly token?: TokenSource;
  /** Default the global fetch. */
  readonly fetch?: Fetch;
  /** Events per push request. Default 100. */
  readonly batchSize?: number;
  /** Events per feed page. Default 500. */
  readonly pullLimit?: number;
  readonly autosync?: Partial<AutosyncOptions>;
  /** The physical clock of the HLC. Default Date.now. */
  readonly now?: () => number;
}

/** What the client tells its listeners. */
export interface ClientEvents {
  readonly applied: OutcomeNotice;
  readonly merged: OutcomeNotice;
  readonly conflict: OutcomeNotice;
  readonly resolved: OutcomeNotice;
  readonly pending_review: OutcomeNotice;
  readonly rejected: OutcomeNotice;
  readonly superseded: OutcomeNotice;
  readonly status: ClientStatus;
  /** The local state of an aggregate changed (a local change, a pull, a decision). */
  readonly change: { readonly aggregateType: string; readonly aggregateId: string };
  /**
   * The server no longer knew the client's feed cursor (it was restored from a backup, or its data
   * replaced): the confirmed state is read again from the start, and `requeued` changes are pushed again.
   */
  readonly resync: { readonly requeued: number };
  /** An autosync failure (a `sync()` call's failure is its rejection). */
  readonly error: ConcordClientError;
}

export interface ConcordClient {
  readonly origin: string;
  /** Resolves once the store is loaded (every other call waits for it too). */
  ready(): Promise<void>;
  /** Records a change locally at once and queues it; resolves once it is stored. */
  change(input: ChangeInput): Promise<PendingChange>;
  /** The local state: the confirmed state with the pending local changes on top. */
  get(aggregateType: string, aggregateId: string): Promise<LocalAggregate | undefined>;
  /** The queue, in order. */
  pending(): Promise<readonly PendingChange[]>;
  /** Pushes what is queued, follows up open conflicts, pulls the feed. One sync runs at a time. */
  sync(): Promise<SyncResult>;
  /** Autosync: stream, polling, backoff, push-back pauses. */
  start(): void;
  stop(): Promise<void>;
  status(): ClientStatus;
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): Unsubscribe;
  /** Stops autosync and closes the store. Idempotent. */
  close(): Promise<void>;
}
