import type { Conflict, LocalFieldChange, WriteProvenance } from '../conflict/types.js';
import type { JsonValue } from '../json.js';

/** The remote (incoming event's) value of a field. */
export const remoteValue = (conflict: Conflict, field: string): JsonValue | undefined =>
  conflict.event.data[field];

/** The local (current) side of a field, if known. */
export const localSide = (conflict: Conflict, field: string): LocalFieldChange | undefined =>
  conflict.local[field];

/** Which ordering key decided between two writes. */
export type WriteOrderKey = 'hlc' | 'serverHlc' | 'origin' | 'eventId' | 'identical';

/** Result of ordering the local and the remote write of one field. */
export interface WriteOrder {
  /** 1: the remote write is later; -1: the local write is later; 0: the same write. */
  readonly cmp: -1 | 0 | 1;
  readonly key: WriteOrderKey;
}

/** What ordering reads of a write: its clocks, origin and event id. */
export type OrderedWrite = Pick<WriteProvenance, 'eventId' | 'hlc' | 'serverHlc' | 'origin'>;

/** The clock a write is ordered by, and which one it is. */
export interface WriteClock {
  readonly kind: 'client' | 'server' | 'none';
  readonly stamp: string;
}

/**
 * The clock a write is ordered by: its writer's HLC when it sent one (ingest refused it when further
 * ahead than its maximum offset, so a stored one is in bounds), else the HLC ingest stamped on it when
 * it accepted it; none (earliest) for a write that has neither.
 */
export const writeClock = (write: OrderedWrite | undefined): WriteClock =>
  write?.hlc !== undefined
    ? { kind: 'client', stamp: write.hlc }
    : write?.serverHlc !== undefined
      ? { kind: 'server', stamp: write.serverHlc }
      : { kind: 'none', stamp: '' };

const cmp = (a: string, b: string): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Total, deterministic order of two writes (DESIGN §6): by the clock each is ordered by (`writeClock`;
 * HLC strings sort as HLCs), then by the server HLCs (accepted order), then origin, then event id.
 * `cmp` is 1 when `a` is later.
 */
export const orderWrites = (a: OrderedWrite, b: OrderedWrite | undefined): WriteOrder => {
  let c = cmp(writeClock(a).stamp, writeClock(b).stamp);
  if (c !== 0) return { cmp: c, key: 'hlc' };
  c = cmp(a.serverHlc ?? '', b?.serverHlc ?? '');
  if (c !== 0) return { cmp: c, key: 'serverHlc' };
  c = cmp(a.origin ?? '', b?.origin ?? '');
  if (c !== 0) return { cmp: c, key: 'origin' };
  c = cmp(a.eventId ?? '', b?.eventId ?? '');
  return { cmp: c, key: c === 0 ? 'identical' : 'eventId' };
};

/** The incoming event as an ordered write. */
export const remoteWrite = (conflict: Conflict): OrderedWrite => {
  const e = conflict.event;
  return {
    eventId: e.id,
    ...(e.hlc === undefined ? {} : { hlc: e.hlc }),
    ...(e.serverHlc === undefined ? {} : { serverHlc: e.serverHlc }),
    ...(e.origin === undefined ? {} : { origin: e.origin }),
  };
};

/** Order of the local and the remote write of a field (`orderWrites`); `cmp` is 1 when the remote is later. */
export const compareWrites = (conflict: Conflict, local: LocalFieldChange | undefined): WriteOrder =>
  orderWrites(remoteWrite(conflict), local);

const clockText = (clock: WriteClock): string =>
  clock.kind === 'none' ? 'no HLC' : `${clock.kind} HLC ${clock.stamp}`;

/**
 * Human-readable reason for an ordering decision (`later` for LWW, `earlier` for FWW), naming the clock
 * that decided: each side's client or server HLC, the server HLCs (accepted order), origin or event id.
 */
export const orderReason = (
  conflict: Conflict,
  local: LocalFieldChange | undefined,
  order: WriteOrder,
  remoteWins: boolean,
  word: 'later' | 'earlier',
): string => {
  const winner = remoteWins ? 'remote' : 'local';
  const e = conflict.event;
  const remoteClock = writeClock(e);
  const localClock = writeClock(local);
  switch (order.key) {
    case 'hlc': {
      const by =
        remoteClock.kind === 'server' && localClock.kind === 'server'
          ? 'accepted ' + word + ' (server HLCs)'
          : `${word} by HLC`;
      return `${winner} write is ${by}: remote ${clockText(remoteClock)}, local ${clockText(localClock)}`;
    }
    case 'serverHlc':
      return `HLC tie, broken by server HLC: ${winner} accepted ${word} (remote ${e.serverHlc ?? 'none'}, local ${local?.serverHlc ?? 'none'})`;
    case 'origin':
      return `HLC tie, broken by origin: ${winner} wins (remote "${e.origin ?? ''}", local "${local?.origin ?? ''}")`;
    case 'eventId':
      return `HLC and origin tie, broken by event id: ${winner} wins (remote "${e.id}", local "${local?.eventId ?? ''}")`;
    case 'identical':
      return 'both sides are the same write: local kept';
  }
};
