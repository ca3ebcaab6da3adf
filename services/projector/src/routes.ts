import { ConcordError, isPlainObject } from '@concord/core';
import { isUnstorableText } from '@concord/core/envelope';
import type { Logger } from '@concord/core';
import type { Database, EventStore, HistoryEvent } from '@concord/outbox';
import { exemptFromIdleTimeout, requestedId, serviceKitErrors } from '@concord/service-kit';
import type { FastifyRequest } from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Checkpoints } from './checkpoints.js';
import { aggregateNotFound } from './errors.js';
import type { ProjectionOrchestrator } from './orchestrator.js';
import type { Rebuilder } from './rebuild/rebuilder.js';
import {
  AGGREGATE_SCHEMA,
  CHECKPOINTS_SCHEMA,
  HISTORY_SCHEMA,
  REBUILD_SCHEMA,
  REBUILD_STATUS_SCHEMA,
} from './routes-schemas.js';

export interface ProjectorRoutesOptions {
  readonly db: Database;
  /** Where aggregate histories are read. */
  readonly store: EventStore;
  readonly orchestrator: ProjectionOrchestrator;
  readonly rebuilder: Rebuilder;
  readonly checkpoints: Checkpoints;
  readonly logger: Logger;
}

const rebuildRequest = (body: unknown): { aggregateType?: string } => {
  if (body === undefined || body === null || body === '') return {};
  if (!isPlainObject(body)) throw invalidRequest('the body must be a JSON object');
  const type = body['aggregateType'];
  if (type === undefined) return {};
  if (typeof type !== 'string' || type === '' || type.length > 200) {
    throw invalidRequest('aggregateType must be a non-empty string');
  }
  // Checked before the rebuild starts: the database would refuse the text, and the rebuild be `failed`.
  if (isUnstorableText(type)) {
    throw invalidRequest('aggregateType holds U+0000 or an unpaired surrogate, which no aggregate type has');
  }
  return { aggregateType: type };
};

const invalidRequest = (message: string) => new ConcordError(serviceKitErrors.REQUEST_INVALID, message);

const HISTORY_LIMIT = { fallback: 100, max: 500 } as const;

/** `limit` of a history page: 1 to 500, default 100. */
const historyLimit = (raw: unknown): number => {
  if (raw === undefined) return HISTORY_LIMIT.fallback;
  const value = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= HISTORY_LIMIT.max)) {
    throw invalidRequest(`limit must be an integer from 1 to ${HISTORY_LIMIT.max}`);
  }
  return value;
};

/** A history entry as served: the event, its outcomes and, for a conflict, the decisions made on it. */
const historyEntry = (entry: HistoryEvent) => ({
  id: entry.event.id,
  type: entry.event.type,
  outcome: entry.outcome,
  version: entry.version ?? null,
  conflictId: entry.conflictId ?? null,
  recordedAt: entry.recordedAt,
  event: entry.event,
  outcomes: entry.outcomes,
  decisions: entry.outcomes.flatMap((o) =>
    isPlainObject(o.details['decision']) ? [o.details['decision']] : [],
  ),
  cursor: entry.cursor,
});

/**
 * The aggregate a path names, as stored: the caller's tenant's (DESIGN §5 "Tenants"). Undefined when it
 * names none: text Postgres cannot store (answered without a failed query) or the tenant separator.
 */
const storedAggregateId = (request: FastifyRequest, type: string, id: string): string | undefined =>
  isUnstorableText(type) || isUnstorableText(id) ? undefined : requestedId(request, id);

/** `GET /v1/aggregates/:type/:id` (and `…/history`) and the projection administration endpoints. */
export const registerProjectorRoutes = (app: FastifyInstance, options: ProjectorRoutesOptions): void => {
  const { db, store, orchestrator, rebuilder, checkpoints, logger } = options;

  app.get<{ Params: { type: string; id: string } }>(
    '/v1/aggregates/:type/:id',
    { config: { scope: 'events:read' }, schema: AGGREGATE_SCHEMA },
    async (request) => {
      const { type, id } = request.params;
      const stored = storedAggregateId(request, type, id);
      if (stored === undefined) throw aggregateNotFound(type, id);
      const hit = await orchestrator.read({ sql: db }, type, stored);
      if (hit === undefined) throw aggregateNotFound(type, id);
      const { record } = hit;
      if (hit.missed.length > 0) {
        // Read-through: fill the caches that missed, from a read that no rebuild's swap can overtake
        // (version-guarded as well, so a race with a live update is safe).
        await db
          .withTransaction((tx) => orchestrator.fill({ tx }, hit))
          .catch((error: unknown) =>
            logger.warn({ err: error, type, id: stored }, 'projection cache fill failed'),
          );
      }
      return {
        type: record.type,
        id: record.id,
        version: record.version,
        fields: record.fields,
        fieldVersions: record.fieldVersions,
        updatedAt: record.updatedAt,
      };
    },
  );

  // The aggregate's history, from the event store (every service shares its database): events of every
  // outcome, the resolver's changes (resolution, provisional, reopen, review) among them, in commit order.
  app.get<{ Params: { type: string; id: string }; Querystring: Record<string, unknown> }>(
    '/v1/aggregates/:type/:id/history',
    { config: { scope: 'events:read' }, schema: HISTORY_SCHEMA },
    async (request) => {
      const { type, id } = request.params;
      const stored = storedAggregateId(request, type, id);
      if (stored === undefined) throw aggregateNotFound(type, id);
      const limit = historyLimit(request.query['limit']);
      const after = request.query['after'];
      if (after !== undefined && typeof after !== 'string') throw invalidRequest('after must be a cursor');
      const page = await store.history(db, {
        aggregateType: type,
        aggregateId: stored,
        limit,
        ...(after === undefined || after === '' ? {} : { after }),
      });
      if (page.events.length === 0 && (after === undefined || after === ''))
        throw aggregateNotFound(type, id);
      return { type, id, events: page.events.map(historyEntry), next: page.next ?? null };
    },
  );

  app.post(
    '/v1/projections/rebuild',
    { config: { scope: 'admin' }, schema: REBUILD_SCHEMA },
    async (request) => {
      const scope = rebuildRequest(request.body);
      // The answer comes when the rebuild is done, which may be longer than the idle timeout.
      exemptFromIdleTimeout(request);
      return rebuilder.rebuild(scope);
    },
  );

  app.get(
    '/v1/projections/rebuild',
    { config: { scope: 'admin' }, schema: REBUILD_STATUS_SCHEMA },
    async () => ({
      rebuild: (await rebuilder.status()) ?? null,
    }),
  );

  app.get(
    '/v1/projections/checkpoints',
    { config: { scope: 'admin' }, schema: CHECKPOINTS_SCHEMA },
    async () => ({
      checkpoints: await checkpoints.list(db),
    }),
  );
};
