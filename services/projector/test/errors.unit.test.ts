import { toHttpError } from '@concord/service-kit';
import { describe, expect, it } from 'vitest';
import {
  aggregateNotFound,
  readOnly,
  rebuildRunning,
  unsupportedCapability,
  unsupportedMode,
} from '../src/errors.js';

describe('projection errors at the HTTP edge', () => {
  it('map to stable codes and the statuses of their table', () => {
    const cases = [
      [unsupportedCapability(undefined, 'note'), 'CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY', 422],
      [readOnly('archive'), 'CONCORD_PROJECTION_READ_ONLY', 409],
      [unsupportedMode('redis', 'rebuild'), 'CONCORD_PROJECTION_UNSUPPORTED_MODE', 422],
      [aggregateNotFound('task', 'x'), 'CONCORD_AGGREGATE_NOT_FOUND', 404],
      [rebuildRunning(), 'CONCORD_PROJECTION_REBUILD_RUNNING', 409],
    ] as const;
    for (const [error, code, status] of cases) {
      expect(toHttpError(error)).toMatchObject({ status, body: { error: { code } } });
    }
    expect(unsupportedCapability('redis', 'note')).toMatchObject({
      retryable: false,
      details: { backend: 'redis', aggregateType: 'note' },
    });
  });
});
