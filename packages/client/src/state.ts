import type {
  ConfirmedAggregate,
  JsonObject,
  LocalAggregate,
  PendingChange,
  PendingStatus,
} from './types.js';

/** Which pending changes show on top of the confirmed state (see `PendingStatus`). */
const SHOWN: ReadonlySet<PendingStatus> = new Set<PendingStatus>(['queued', 'sent', 'conflict']);

export const isShown = (change: PendingChange): boolean => SHOWN.has(change.status);

/** By queue order. */
export const bySeq = (a: PendingChange, b: PendingChange): number => a.seq - b.seq;

/**
 * The local state of one aggregate: its confirmed state with the shown pending changes applied on top,
 * in queue order, each setting the fields of its data (patch semantics, DESIGN §2). Undefined when the
 * server confirmed nothing of it and no change of it is shown.
 */
export const localState = (
  aggregateType: string,
  aggregateId: string,
  confirmed: ConfirmedAggregate | undefined,
  pending: readonly PendingChange[],
): LocalAggregate | undefined => {
  const shown = pending.filter(isShown).sort(bySeq);
  if (confirmed === undefined && shown.length === 0) return undefined;
  const fields: JsonObject = { ...confirmed?.fields };
  for (const change of shown) Object.assign(fields, change.data);
  return { aggregateType, aggregateId, version: confirmed?.version ?? 0, fields, pending: shown.length };
};

/** An applied event of the feed folded into the confirmed state (an event already folded changes nothing). */
export const foldApplied = (
  confirmed: ConfirmedAggregate | undefined,
  event: {
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly version: number;
    readonly data: JsonObject;
  },
): ConfirmedAggregate => {
  if (confirmed !== undefined && event.version <= confirmed.version) return confirmed;
  return {
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    version: event.version,
    fields: { ...confirmed?.fields, ...event.data },
  };
};

/** A change the confirmed state has caught up with: applied, merged or decided at or below its version. */
export const isConfirmed = (change: PendingChange, confirmedVersion: number): boolean =>
  (change.status === 'sent' || change.status === 'settled') &&
  change.version !== undefined &&
  change.version <= confirmedVersion;
