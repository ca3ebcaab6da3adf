import { ConcordError } from '@concord/core';
import { createBatcher as createKitBatcher } from '@concord/service-kit';
import type { Batcher, BatcherOptions } from '@concord/service-kit';
import { ingestErrors } from './errors.js';

export type { Batcher, BatcherOptions, CommitInfo } from '@concord/service-kit';

/** Ingest's group commit: service-kit's batcher, refusing work with `CONCORD_INGEST_CLOSED` after close. */
export const createBatcher = <J, R>(options: BatcherOptions<J, R>): Batcher<J, R> =>
  createKitBatcher({
    closedError: () =>
      new ConcordError(ingestErrors.INGEST_CLOSED, 'ingest is shutting down; retry elsewhere', {
        retryable: true,
      }),
    ...options,
  });
