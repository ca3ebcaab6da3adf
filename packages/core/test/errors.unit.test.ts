import { describe, expect, it } from 'vitest';
import { ConcordError, errorCode, isRetryable } from '@concord/core';

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
