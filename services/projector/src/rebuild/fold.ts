import { applyChanges, changeSetOf } from '@concord/core/conflict';
import type { JsonObject } from '@concord/core';
import type { AggregateState, FieldVersion } from '@concord/core/conflict';
import type { VersionVector } from '@concord/core/versions';
import type { FeedEvent, Sql } from '@concord/outbox';
import type { ProjectionTables } from '../tables.js';

/** Events waiting for an earlier version of their aggregate, by aggregate key and version. */
export type HeldEvents = Map<string, Map<number, FeedEvent>>;

export interface FoldResult {
  /** Events applied to a state. */
  readonly applied: number;
  /** Events at or below the state's version (seen before). */
  readonly skipped: number;
}

interface StagingRow {
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  fields: JsonObject;
  field_versions: Record<string, FieldVersion>;
  vector: VersionVector;
}

const keyOf = (type: string, id: string) => `${type}\u0000${id}`;

/**
 * Folds a batch of feed events into a rebuild's staging states: each event's data applied on top of its
 * aggregate's state (`applyChanges`, with the per-field provenance a resolver's change carries). An
 * event applies only on top of the version just before it; one that
 * arrives ahead of its predecessor (transaction-id order can differ from version order) is held until
 * the predecessor comes, so the result does not depend on the order of the feed.
 */
export const foldEvents = async (
  sql: Sql,
  options: {
    readonly tables: ProjectionTables;
    readonly rebuildId: string;
    readonly events: readonly FeedEvent[];
    readonly held: HeldEvents;
  },
): Promise<FoldResult> => {
  const { tables, rebuildId, events, held } = options;
  if (events.length === 0) return { applied: 0, skipped: 0 };
  const keys = new Map<string, [string, string]>();
  for (const { event } of events) {
    keys.set(keyOf(event.aggregateType, event.aggregateId), [event.aggregateType, event.aggregateId]);
  }
  const { rows } = await sql.query<StagingRow>(
    `SELECT s.aggregate_type, s.aggregate_id, s.version::float8 AS version, s.fields, s.field_versions, s.vector
     FROM ${tables.rebuildRows} s JOIN unnest($2::text[], $3::text[]) AS k(t, i)
       ON s.aggregate_type = k.t AND s.aggregate_id = k.i
     WHERE s.rebuild_id = $1`,
    [rebuildId, [...keys.values()].map((k) => k[0]), [...keys.values()].map((k) => k[1])],
  );
  const states = new Map<string, AggregateState>(
    rows.map((row) => [
      keyOf(row.aggregate_type, row.aggregate_id),
      { version: row.version, fields: row.fields, fieldVersions: row.field_versions, vector: row.vector },
    ]),
  );
  const lastEvent = new Map<string, string>();
  const dirty = new Set<string>();
  let applied = 0;
  let skipped = 0;

  const apply = (key: string, feedEvent: FeedEvent) => {
    // A resolver's change credits each field to the write whose value it is, as the live aggregate does.
    const change = changeSetOf(feedEvent.event);
    const { provenance } = feedEvent;
    states.set(
      key,
      applyChanges(states.get(key), provenance === undefined ? change : { ...change, provenance }),
    );
    lastEvent.set(key, feedEvent.event.id);
    dirty.add(key);
    applied += 1;
  };

  for (const feedEvent of events) {
    const key = keyOf(feedEvent.event.aggregateType, feedEvent.event.aggregateId);
    const current = states.get(key)?.version ?? 0;
    // Version 0: the store recorded none; apply in feed order.
    if (feedEvent.version !== 0 && feedEvent.version <= current) {
      skipped += 1;
      continue;
    }
    if (feedEvent.version !== 0 && feedEvent.version > current + 1) {
      const waiting = held.get(key) ?? new Map<number, FeedEvent>();
      waiting.set(feedEvent.version, feedEvent);
      held.set(key, waiting);
      continue;
    }
    apply(key, feedEvent);
    const waiting = held.get(key);
    let next = waiting?.get((states.get(key)?.version ?? 0) + 1);
    while (waiting !== undefined && next !== undefined) {
      waiting.delete(next.version);
      apply(key, next);
      next = waiting.get((states.get(key)?.version ?? 0) + 1);
    }
    if (waiting?.size === 0) held.delete(key);
  }

  if (dirty.size > 0) {
    const columns: unknown[][] = [[], [], [], [], [], [], []];
    for (const key of dirty) {
      const [type, id] = keys.get(key) ?? ['', ''];
      const state = states.get(key);
      if (state === undefined) continue;
      const row = [
        type,
        id,
        state.version,
        JSON.stringify(state.fields),
        JSON.stringify(state.fieldVersions),
        JSON.stringify(state.vector),
        lastEvent.get(key) ?? null,
      ];
      row.forEach((value, i) => columns[i]?.push(value));
    }
    await sql.query(
      `INSERT INTO ${tables.rebuildRows} (rebuild_id, aggregate_type, aggregate_id, version, fields,
         field_versions, vector, event_id)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
         $8::text[])
       ON CONFLICT (rebuild_id, aggregate_type, aggregate_id) DO UPDATE
         SET version = excluded.version, fields = excluded.fields, field_versions = excluded.field_versions,
           vector = excluded.vector, event_id = excluded.event_id`,
      [rebuildId, ...columns],
    );
  }
  return { applied, skipped };
};

/** Held events no predecessor arrived for: a gap in the store's versions (reported, never applied). */
export const gapsOf = (held: HeldEvents) =>
  [...held.values()].flatMap((waiting) =>
    [...waiting.values()].map((e) => ({
      aggregateType: e.event.aggregateType,
      aggregateId: e.event.aggregateId,
      version: e.version,
      eventId: e.event.id,
    })),
  );
