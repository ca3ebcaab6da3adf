import { ConcordError } from '@concord/core';
import { registerErrorStatus } from '@concord/service-kit';

/** Stable codes the projector raises. */
export const ProjectionErrorCode = {
  /** No backend (or not the named one) declares the aggregate type. */
  UnsupportedCapability: 'CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY',
  /** A write was sent to a backend that declares itself read-only. */
  ReadOnly: 'CONCORD_PROJECTION_READ_ONLY',
  /** The backend does not implement the requested mode (upsert, rebuild, read). */
  UnsupportedMode: 'CONCORD_PROJECTION_UNSUPPORTED_MODE',
  AggregateNotFound: 'CONCORD_AGGREGATE_NOT_FOUND',
  RebuildRunning: 'CONCORD_PROJECTION_REBUILD_RUNNING',
  MessageMalformed: 'CONCORD_MESSAGE_MALFORMED',
} as const;

export type ProjectionErrorCode = (typeof ProjectionErrorCode)[keyof typeof ProjectionErrorCode];

let registered = false;

/** Maps the projector's codes to HTTP statuses (service-kit's registry is process-wide). Idempotent. */
export const registerProjectionErrorStatuses = (): void => {
  if (registered) return;
  registered = true;
  registerErrorStatus(ProjectionErrorCode.UnsupportedCapability, 422);
  registerErrorStatus(ProjectionErrorCode.ReadOnly, 409);
  registerErrorStatus(ProjectionErrorCode.UnsupportedMode, 422);
  registerErrorStatus(ProjectionErrorCode.RebuildRunning, 409);
};

export const unsupportedCapability = (backend: string | undefined, aggregateType: string): ConcordError =>
  new ConcordError(
    ProjectionErrorCode.UnsupportedCapability,
    backend === undefined
      ? `No projection backend supports aggregate type ${JSON.stringify(aggregateType)}`
      : `Projection backend ${backend} does not support aggregate type ${JSON.stringify(aggregateType)}`,
    { details: { backend, aggregateType } },
  );

export const readOnly = (backend: string): ConcordError =>
  new ConcordError(ProjectionErrorCode.ReadOnly, `Projection backend ${backend} is read-only`, {
    details: { backend },
  });

export const unsupportedMode = (backend: string, mode: string): ConcordError =>
  new ConcordError(
    ProjectionErrorCode.UnsupportedMode,
    `Projection backend ${backend} does not support mode ${mode}`,
    { details: { backend, mode } },
  );

export const aggregateNotFound = (type: string, id: string): ConcordError =>
  new ConcordError(ProjectionErrorCode.AggregateNotFound, `No projection of ${type} ${id}`, {
    details: { type, id },
  });

export const rebuildRunning = (): ConcordError =>
  new ConcordError(ProjectionErrorCode.RebuildRunning, 'A projection rebuild is already running', {
    retryable: true,
  });

export const malformed = (reason: string, cause?: unknown): ConcordError =>
  new ConcordError(ProjectionErrorCode.MessageMalformed, reason, cause === undefined ? {} : { cause });
