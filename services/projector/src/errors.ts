import { busErrors } from '@concord/bus';
import { ConcordError, defineErrors } from '@concord/core';

/** The projector's codes: its backends, rebuilds and read API. */
export const projectorErrors = defineErrors({
  PROJECTION_UNSUPPORTED_CAPABILITY: {
    code: 'CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY',
    retryable: false,
    status: 422,
    message: 'No backend (or not the named one) declares the aggregate type.',
  },
  PROJECTION_READ_ONLY: {
    code: 'CONCORD_PROJECTION_READ_ONLY',
    retryable: false,
    status: 409,
    message: 'A write was sent to a backend that declares itself read-only.',
  },
  PROJECTION_UNSUPPORTED_MODE: {
    code: 'CONCORD_PROJECTION_UNSUPPORTED_MODE',
    retryable: false,
    status: 422,
    message: 'The backend does not implement the requested mode (upsert, rebuild, read).',
  },
  PROJECTION_REBUILD_RUNNING: {
    code: 'CONCORD_PROJECTION_REBUILD_RUNNING',
    retryable: true,
    status: 409,
    message: 'A rebuild was asked for while one is running.',
  },
  AGGREGATE_NOT_FOUND: {
    code: 'CONCORD_AGGREGATE_NOT_FOUND',
    retryable: false,
    status: 404,
    message: 'No projection of that aggregate (also for an id no row can hold).',
  },
});

export const unsupportedCapability = (backend: string | undefined, aggregateType: string): ConcordError =>
  new ConcordError(
    projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY,
    backend === undefined
      ? `No projection backend supports aggregate type ${JSON.stringify(aggregateType)}`
      : `Projection backend ${backend} does not support aggregate type ${JSON.stringify(aggregateType)}`,
    { details: { backend, aggregateType } },
  );

export const readOnly = (backend: string): ConcordError =>
  new ConcordError(projectorErrors.PROJECTION_READ_ONLY, `Projection backend ${backend} is read-only`, {
    details: { backend },
  });

export const unsupportedMode = (backend: string, mode: string): ConcordError =>
  new ConcordError(
    projectorErrors.PROJECTION_UNSUPPORTED_MODE,
    `Projection backend ${backend} does not support mode ${mode}`,
    { details: { backend, mode } },
  );

export const aggregateNotFound = (type: string, id: string): ConcordError =>
  new ConcordError(projectorErrors.AGGREGATE_NOT_FOUND, `No projection of ${type} ${id}`, {
    details: { type, id },
  });

export const rebuildRunning = (): ConcordError =>
  new ConcordError(projectorErrors.PROJECTION_REBUILD_RUNNING, 'A projection rebuild is already running', {
    retryable: true,
  });

export const malformed = (reason: string, cause?: unknown): ConcordError =>
  new ConcordError(busErrors.MESSAGE_MALFORMED, reason, cause === undefined ? {} : { cause });
