import type { Conflict, LocalFieldChange } from '../conflict/types.js';
import type { JsonValue } from '../json.js';

/** The remote (incoming event's) value of a field. */
export const remoteValue = (conflict: Conflict, field: string): JsonValue | undefined =>
  conflict.event.data[field];

/** The local (current) side of a field, if known. */
export const localSide = (conflict: Conflict, field: string): LocalFieldChange | undefined =>
  conflict.local[field];

/** Which ordering key decided between two writes. */
export type WriteOrderKey = 'hlc' | 'origin' | 'eventId' | 'identical';

/** Result of ordering the local and the remote write of one field. */
export interface WriteOrder {
  /** 1: the remote write is later; -1: the local write is later; 0: the same write. */
  readonly cmp: -1 | 0 | 1;
  readonly key: WriteOrderKey;
}

const cmp = (a: string, b: string): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Total, deterministic order of the local and the remote write of a field: by HLC (a missing stamp is
 * earliest), then origin, then event id. `cmp` is 1 when the remote write is later.
 */
export const compareWrites = (conflict: Conflict, local: LocalFieldChange | undefined): WriteOrder => {
  const event = conflict.event;
  let c = cmp(event.hlc ?? '', local?.hlc ?? '');
  if (c !== 0) return { cmp: c, key: 'hlc' };
  c = cmp(event.origin ?? '', local?.origin ?? '');
  if (c !== 0) return { cmp: c, key: 'origin' };
  c = cmp(event.id, local?.eventId ?? '');
  return { cmp: c, key: c === 0 ? 'identical' : 'eventId' };
};

/** Human-readable reason for an ordering decision (`later` for LWW, `earlier` for FWW). */
export const orderReason = (
  conflict: Conflict,
  local: LocalFieldChange | undefined,
  order: WriteOrder,
  remoteWins: boolean,
  word: 'later' | 'earlier',
): string => {
  const winner = remoteWins ? 'remote' : 'local';
  const e = conflict.event;
  switch (order.key) {
    case 'hlc':
      return `${winner} write is ${word} (remote HLC ${e.hlc ?? 'none'}, local HLC ${local?.hlc ?? 'none'})`;
    case 'origin':
      return `HLC tie, broken by origin: ${winner} wins (remote "${e.origin ?? ''}", local "${local?.origin ?? ''}")`;
    case 'eventId':
      return `HLC and origin tie, broken by event id: ${winner} wins (remote "${e.id}", local "${local?.eventId ?? ''}")`;
    case 'identical':
      return 'both sides are the same write: local kept';
  }
};
