import { ConcordError } from '@concord/core';
import { createBatcher as createKitBatcher } from '@concord/service-kit';
import type { Batcher, BatcherOptions } from '@concord/service-kit';

export type { Batcher, BatcherOptions, CommitInfo } from '@concord/service-kit';

/** What a request or submit message gets once ingest is shutting down (HTTP 503, retryable). */
export const BATCHER_CLOSED = 'CONCORD_INGEST_CLOSED';

/** Ingest's group commit: service-kit's batcher, refusing work with `CONCORD_INGEST_CLOSED` after close. */
export const createBatcher = <J, R>(options: BatcherOptions<J, R>): Batcher<J, R> =>
  createKitBatcher({
    closedError: () =>
      new ConcordError(BATCHER_CLOSED, 'ingest is shutting down; retry elsewhere', { retryable: true }),
    ...options,
  });
