import { describe, expect, it } from 'vitest';
import { ConcordError, coreErrors, defineErrors, errorCode, isRetryable } from '@concord/core';

describe('ConcordError', () => {
  it('carries a stable code, retryability and cause', () => {
    const cause = new Error('socket hang up');
    const error = new ConcordError('CONCORD_BUS_UNAVAILABLE', 'broker unreachable', {
      retryable: true,
      cause,
    });
    expect(error.code).toBe('CONCORD_BUS_UNAVAILABLE');
    expect(error.cause).toBe(cause);
    expect(isRetryable(error)).toBe(true);
    expect(isRetryable(new ConcordError('CONCORD_EVENT_INVALID', 'bad'))).toBe(false);
    expect(errorCode(new Error('x'))).toBe('CONCORD_INTERNAL');
  });
});

describe('defineErrors', () => {
  const table = defineErrors({
    SOMETHING_BUSY: { code: 'CONCORD_SOMETHING_BUSY', retryable: true, status: 429, message: 'busy' },
    SOMETHING_ODD: { code: 'CONCORD_SOMETHING_ODD', retryable: false, message: 'odd' },
    SOMETHING_PER_EVENT: {
      code: 'CONCORD_SOMETHING_PER_EVENT',
      retryable: false,
      status: 'per event',
      message: 'per event',
    },
  });

  it('makes errors that take code, retryability and HTTP status from their entry', () => {
    const busy = new ConcordError(table.SOMETHING_BUSY, 'try later', { details: { n: 1 } });
    expect(busy).toMatchObject({
      code: 'CONCORD_SOMETHING_BUSY',
      retryable: true,
      status: 429,
      details: { n: 1 },
    });
    const odd = new ConcordError(table.SOMETHING_ODD, 'odd');
    expect(odd).toMatchObject({ code: 'CONCORD_SOMETHING_ODD', retryable: false, status: undefined });
    expect(new ConcordError(table.SOMETHING_PER_EVENT, 'x').status).toBeUndefined();
    expect(new ConcordError(table.SOMETHING_ODD, 'odd', { retryable: true }).retryable).toBe(true);
    expect(new ConcordError('CONCORD_SOMETHING_ODD', 'odd').status).toBeUndefined();
  });

  it('refuses an entry whose code is not CONCORD_ and its key', () => {
    // @ts-expect-error -- the type refuses it too
    expect(() => defineErrors({ BUSY: { code: 'CONCORD_IDLE', retryable: false, message: 'x' } })).toThrow(
      /BUSY has code CONCORD_IDLE/,
    );
  });

  it('gives every core code CONCORD_ and its key, frozen', () => {
    expect(Object.isFrozen(coreErrors)).toBe(true);
    for (const [key, entry] of Object.entries(coreErrors)) expect(entry.code).toBe(`CONCORD_${key}`);
  });
});
