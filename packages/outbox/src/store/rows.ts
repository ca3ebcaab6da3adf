import type { JsonObject } from '@concord/core';
import type { AggregateState, WriteProvenance } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { VersionVector } from '@concord/core/versions';
import { encodeCursor } from './cursor.js';
import type { FeedEvent } from './types.js';

/** Columns every event query selects (see sql.ts). */
export interface EventRow {
  readonly event_id: string;
  readonly type: string;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly base_version: number | null;
  readonly clock: VersionVector | null;
  readonly hlc: string | null;
  readonly server_hlc: string | null;
  readonly origin: string | null;
  readonly data: JsonObject;
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly outcome: Outcome;
  readonly version: number | null;
  readonly conflict_id: string | null;
  /** On a change the resolver applied: per field, the write whose value it is. */
  readonly provenance: Readonly<Record<string, WriteProvenance>> | null;
}

export interface AggregateRow {
  readonly version: number;
  readonly fields: JsonObject;
  readonly field_versions: AggregateState['fieldVersions'];
  readonly vector: VersionVector;
}

export const toEnvelope = (row: EventRow): EventEnvelope => ({
  id: row.event_id,
  type: row.type,
  aggregateType: row.aggregate_type,
  aggregateId: row.aggregate_id,
  ...(row.base_version === null ? {} : { baseVersion: row.base_version }),
  ...(row.clock === null ? {} : { clock: row.clock }),
  ...(row.hlc === null ? {} : { hlc: row.hlc }),
  ...(row.server_hlc === null ? {} : { serverHlc: row.server_hlc }),
  ...(row.origin === null ? {} : { origin: row.origin }),
  data: row.data,
  ...(row.metadata === null ? {} : { metadata: row.metadata }),
});

/** A row of the pull feed: the event, its outcome and version, the provenance of a resolver's change. */
export const toFeedEvent = (row: EventRow & { tx_id: string; position: string }): FeedEvent => ({
  event: toEnvelope(row),
  outcome: row.outcome,
  version: row.version ?? 0,
  ...(row.provenance === null ? {} : { provenance: row.provenance }),
  cursor: encodeCursor({ txId: row.tx_id, position: row.position }),
});

/** The stored aggregate, or undefined when nothing was ever applied to it (version 0). */
export const toState = (row: AggregateRow | undefined): AggregateState | undefined =>
  row === undefined || row.version === 0
    ? undefined
    : { version: row.version, fields: row.fields, fieldVersions: row.field_versions, vector: row.vector };

export const aggregateKey = (type: string, id: string): string => `${type}\u0000${id}`;

export const splitKey = (key: string): [string, string] => {
  const separator = key.indexOf('\u0000');
  return [key.slice(0, separator), key.slice(separator + 1)];
};
