import { outboxError } from '../errors.js';

/** Feed position: the transaction id and position of the last event read. */
export interface FeedPosition {
  readonly txId: string;
  readonly position: string;
}

export const START: FeedPosition = { txId: '0', position: '0' };

/** Opaque cursor text: base64url of `txId.position`. */
export const encodeCursor = (p: FeedPosition): string =>
  Buffer.from(`${p.txId}.${p.position}`).toString('base64url');

export const decodeCursor = (cursor: string | undefined): FeedPosition => {
  if (cursor === undefined || cursor === '') return START;
  const match = /^(\d{1,20})\.(\d{1,20})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) {
    throw outboxError('CONCORD_INVALID_CURSOR', 'The feed cursor is not one this server issued', {
      details: { cursor },
    });
  }
  return { txId: match[1] ?? '0', position: match[2] ?? '0' };
};
