import type { ConfirmedAggregate, PendingChange } from '../types.js';

/** Everything a client keeps between runs. */
export interface StoredState {
  /** The pull feed's cursor: the feed is read after it. */
  readonly cursor: string | undefined;
  /** The last HLC stamp the client issued, so a restarted client's stamps keep increasing. */
  readonly hlc: string | undefined;
  /** The queue, in any order (`seq` orders it). */
  readonly pending: readonly PendingChange[];
  readonly aggregates: readonly ConfirmedAggregate[];
}

/** One atomic write: all of it is stored, or (on a failure or crash) none of it. */
export interface StoreWrite {
  readonly putPending?: readonly PendingChange[];
  readonly deletePending?: readonly string[];
  /** Every confirmed aggregate removed first (the client reads the server's state again from the start). */
  readonly clearAggregates?: boolean;
  readonly putAggregates?: readonly ConfirmedAggregate[];
  /** The new cursor; `null` removes it (the feed is read from the start). */
  readonly cursor?: string | null;
  readonly hlc?: string;
}

/**
 * The port every local store implements (memory, IndexedDB, file). One client uses a store at a time;
 * a store survives the client's restart with its queue, confirmed state and cursor intact.
 */
export interface ClientStore {
  load(): Promise<StoredState>;
  write(batch: StoreWrite): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export const EMPTY_STATE: StoredState = Object.freeze({
  cursor: undefined,
  hlc: undefined,
  pending: Object.freeze([]),
  aggregates: Object.freeze([]),
});

/** The key of an aggregate in maps and stores. */
export const aggregateKey = (aggregateType: string, aggregateId: string): string =>
  JSON.stringify([aggregateType, aggregateId]);

/** A stored state with `batch` applied: what memory and file stores hold. */
export const applyWrite = (state: StoredState, batch: StoreWrite): StoredState => {
  const pending = new Map(state.pending.map((change) => [change.id, change]));
  for (const id of batch.deletePending ?? []) pending.delete(id);
  for (const change of batch.putPending ?? []) pending.set(change.id, change);
  const aggregates = new Map(
    (batch.clearAggregates === true ? [] : state.aggregates).map((a) => [
      aggregateKey(a.aggregateType, a.aggregateId),
      a,
    ]),
  );
  for (const a of batch.putAggregates ?? []) aggregates.set(aggregateKey(a.aggregateType, a.aggregateId), a);
  return {
    cursor: batch.cursor === undefined ? state.cursor : (batch.cursor ?? undefined),
    hlc: batch.hlc ?? state.hlc,
    pending: [...pending.values()],
    aggregates: [...aggregates.values()],
  };
};
