import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, START } from '../src/store/cursor.js';

const cursorOf = (text: string): string => Buffer.from(text).toString('base64url');

const codeOf = (cursor: string): string => {
  try {
    decodeCursor(cursor);
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'accepted';
};

describe('feed cursor', () => {
  it('round-trips a position, and starts at the beginning without one', () => {
    const position = { txId: '123456', position: '42' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    expect(decodeCursor(undefined)).toEqual(START);
    expect(decodeCursor('')).toEqual(START);
  });

  it('accepts the largest transaction id (xid8) and position (bigint)', () => {
    const largest = { txId: '18446744073709551615', position: '9223372036854775807' };
    expect(decodeCursor(encodeCursor(largest))).toEqual(largest);
  });

  it.each([
    ['not base64 of a position', 'bm90LWEtY3Vyc29y'],
    ['a transaction id past xid8', cursorOf('18446744073709551616.1')],
    ['a 20-digit transaction id far past xid8', cursorOf('99999999999999999999.1')],
    ['a position past bigint', cursorOf('1.9223372036854775808')],
    ['a 20-digit position', cursorOf('1.99999999999999999999')],
    ['too many digits', cursorOf('1.000000000000000000001')],
    ['a negative position', cursorOf('1.-1')],
  ])('refuses %s with CONCORD_INVALID_CURSOR', (_what, cursor) => {
    expect(codeOf(cursor)).toBe('CONCORD_INVALID_CURSOR');
  });
});
