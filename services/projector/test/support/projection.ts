import type { EventEnvelope } from '@concord/core/envelope';
import type { AppliedMessage } from '@concord/core/messages';
import type { ProjectionRecord } from '../../src/model.js';
import { unique } from './harness.js';
import type { Harness } from './harness.js';

/** Events, messages and read-model probes the projector's integration tests share. */
export const ev = (
  aggregateType: string,
  aggregateId: string,
  data: EventEnvelope['data'],
  extra: Partial<EventEnvelope> = {},
) => ({
  id: `e-${unique()}`,
  type: 'Updated',
  aggregateType,
  aggregateId,
  data,
  ...extra,
});

export const applied = (
  type: string,
  id: string,
  version: number,
  fields: AppliedMessage['changes'],
): AppliedMessage => ({
  kind: 'applied',
  eventId: `${id}-v${version}`,
  eventType: 'Updated',
  aggregateType: type,
  aggregateId: id,
  outcome: 'applied',
  version,
  changes: fields,
  state: { fields, fieldVersions: {}, vector: {} },
  committedAt: new Date().toISOString(),
});

export const get = async (h: Harness, type: string, id: string) => {
  const response = await h.http.app.inject({
    method: 'GET',
    url: `/v1/aggregates/${type}/${encodeURIComponent(id)}`,
  });
  return { status: response.statusCode, body: response.json() };
};

export const pgRow = async (h: Harness, type: string, id: string) => {
  const { rows } = await h.t.db.query<{ version: number; fields: unknown; field_versions: unknown }>(
    `SELECT version::float8 AS version, fields, field_versions FROM concord.projections
     WHERE aggregate_type = $1 AND aggregate_id = $2`,
    [type, id],
  );
  return rows[0];
};

export const redisRecord = async (
  h: Harness,
  type: string,
  id: string,
): Promise<ProjectionRecord | undefined> => {
  const text = await h.redis.hget(`${h.keyPrefix}${type}:${id}`, 'record');
  return text === null ? undefined : (JSON.parse(text) as ProjectionRecord);
};

export const counter = async (h: Harness, name: string, labels: Record<string, string>): Promise<number> => {
  const metric = h.metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
};

export const inboxHas = async (h: Harness, ids: readonly string[]) => {
  const { rows } = await h.t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM concord.inbox WHERE consumer = 'projector' AND message_id = ANY($1::text[])`,
    [ids],
  );
  return rows[0]?.n === ids.length;
};

/** The event store's aggregates (the truth a read model must equal), by type/id. */
export const storeAggregates = async (h: Harness) => {
  const { rows } = await h.t.db.query<{ aggregate_type: string; aggregate_id: string }>(
    'SELECT aggregate_type, aggregate_id FROM concord.aggregates WHERE version > 0 ORDER BY 1, 2',
  );
  const out = new Map<string, { version: number; fields: unknown; fieldVersions: unknown }>();
  for (const row of rows) {
    const state = await h.store.getAggregate(h.t.db, row.aggregate_type, row.aggregate_id);
    if (state !== undefined) {
      out.set(`${row.aggregate_type}/${row.aggregate_id}`, {
        version: state.version,
        fields: state.fields,
        fieldVersions: state.fieldVersions,
      });
    }
  }
  return out;
};

export const readModel = async (h: Harness) => {
  const { rows } = await h.t.db.query<{
    aggregate_type: string;
    aggregate_id: string;
    version: number;
    fields: unknown;
    field_versions: unknown;
  }>(
    `SELECT aggregate_type, aggregate_id, version::float8 AS version, fields, field_versions
     FROM concord.projections ORDER BY 1, 2`,
  );
  return new Map(
    rows.map((r) => [
      `${r.aggregate_type}/${r.aggregate_id}`,
      { version: r.version, fields: r.fields, fieldVersions: r.field_versions },
    ]),
  );
};

/** Every aggregate of the event store is projected at its version (hand-published ones aside). */
export const converged = async (h: Harness) => {
  const [truth, model] = await Promise.all([storeAggregates(h), readModel(h)]);
  for (const [key, state] of truth) if (model.get(key)?.version !== state.version) return false;
  return true;
};
