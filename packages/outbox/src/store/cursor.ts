import { ConcordError } from '@concord/core';
import { outboxErrors } from '../errors.js';

/** Feed position: the transaction id and position of the last event read. */
export interface FeedPosition {
  readonly txId: string;
  readonly position: string;
}

export const START: FeedPosition = { txId: '0', position: '0' };

/** Largest transaction id (`xid8`, unsigned 64 bits) and position (`bigint`, signed 64 bits). */
const MAX_TX_ID = 2n ** 64n - 1n;
const MAX_POSITION = 2n ** 63n - 1n;

/** Opaque cursor text: base64url of `txId.position`. */
export const encodeCursor = (p: FeedPosition): string =>
  Buffer.from(`${p.txId}.${p.position}`).toString('base64url');

/**
 * The position a cursor names. Throws `CONCORD_INVALID_CURSOR` for anything else, numbers out of the
 * range of the columns they are compared with included, so the feed query never sees them.
 */
export const decodeCursor = (cursor: string | undefined): FeedPosition => {
  if (cursor === undefined || cursor === '') return START;
  const match = /^(\d{1,20})\.(\d{1,20})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const txId = match?.[1];
  const position = match?.[2];
  if (
    txId === undefined ||
    position === undefined ||
    BigInt(txId) > MAX_TX_ID ||
    BigInt(position) > MAX_POSITION
  ) {
    throw new ConcordError(outboxErrors.INVALID_CURSOR, 'The feed cursor is not one this server issued', {
      details: { cursor },
    });
  }
  return { txId, position };
};
