import { decodeJson } from '@concord/bus';
import { isPlainObject } from '@concord/core';
import type { AppliedMessage, ConflictResolvedMessage, ProjectedMessage } from '@concord/core/messages';
import { malformed } from './errors.js';
import type { ProjectionRecord } from './model.js';

const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Decodes and checks an `applied` payload; anything else is a non-retryable malformed message. */
export const parseApplied = (payload: Uint8Array): AppliedMessage => {
  const value = decodeJson(payload);
  if (!isPlainObject(value) || value['kind'] !== 'applied') throw malformed('not an applied message');
  const state = value['state'];
  if (
    !isString(value['eventId']) ||
    !isString(value['aggregateType']) ||
    !isString(value['aggregateId']) ||
    typeof value['version'] !== 'number' ||
    !Number.isSafeInteger(value['version']) ||
    value['version'] < 1 ||
    !isPlainObject(state) ||
    !isPlainObject(state['fields']) ||
    !isPlainObject(state['fieldVersions'])
  ) {
    throw malformed('applied message lacks eventId, aggregate, version or state');
  }
  return value as unknown as AppliedMessage;
};

/** Decodes and checks a `conflict_resolved` payload. */
export const parseResolved = (payload: Uint8Array): ConflictResolvedMessage => {
  const value = decodeJson(payload);
  if (
    !isPlainObject(value) ||
    value['kind'] !== 'conflict_resolved' ||
    !isString(value['aggregateType']) ||
    !isString(value['aggregateId'])
  ) {
    throw malformed('not a conflict_resolved message');
  }
  return value as unknown as ConflictResolvedMessage;
};

/** The read-model record an applied message describes. */
export const recordOf = (message: AppliedMessage, updatedAt: string): ProjectionRecord => ({
  type: message.aggregateType,
  id: message.aggregateId,
  version: message.version,
  fields: message.state.fields,
  fieldVersions: message.state.fieldVersions,
  eventId: message.eventId,
  ...(isString(message.committedAt) ? { committedAt: message.committedAt } : {}),
  updatedAt,
});

export const projectedOf = (record: ProjectionRecord, backends: readonly string[]): ProjectedMessage => ({
  kind: 'projected',
  aggregateType: record.type,
  aggregateId: record.id,
  version: record.version,
  eventId: record.eventId ?? '',
  fields: record.fields,
  backends,
});
