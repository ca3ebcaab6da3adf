import { ConcordError, coreErrors } from '@concord/core';
import { isUnstorableText } from '@concord/core/envelope';
import type { Logger } from '@concord/core';
import type { EnvelopeLimits } from '@concord/core/envelope';
import { outboxErrors } from '@concord/outbox';
import type { Database, EventStore } from '@concord/outbox';
import { decodedBodyBytes, requestedId, tenantOf } from '@concord/service-kit';
import { scopeItems } from './intake.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Admission } from './admission.js';
import type { Batcher } from './batcher.js';
import type { IntakeJob, JobResult } from './commit.js';
import { CLOUDEVENT_BATCH_TYPE, CLOUDEVENT_TYPE, parseHttpSubmission } from './cloudevents.js';
import type { IngestMetrics } from './metrics.js';
import { logResults } from './results.js';
import { FEED_SCHEMA, GET_EVENT_SCHEMA, SUBMIT_SCHEMA } from './routes-schemas.js';
import { ingestErrors } from './errors.js';

export interface RoutesDeps {
  readonly db: Database;
  readonly store: EventStore;
  readonly batcher: Batcher<IntakeJob, JobResult>;
  readonly metrics: IngestMetrics;
  readonly limits: Partial<EnvelopeLimits>;
  readonly bodyLimit: number;
  readonly logger: Logger;
  /** Admission control: refused requests get 429 before their body is read. */
  readonly admission?: Admission;
}

/** Parses `limit` of the pull feed: an integer 1..1000, default 100. */
export const parseLimit = (value: unknown): number => {
  if (value === undefined || value === '') return 100;
  const limit = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= 1000)) {
    throw new ConcordError(ingestErrors.INVALID_LIMIT, 'limit must be an integer from 1 to 1000', {
      details: { limit: value },
    });
  }
  return limit;
};

const single = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);

/** DESIGN §5: `POST /v1/events`, `GET /v1/events/:id`, `GET /v1/events?after=&limit=`. */
export const registerRoutes = (app: FastifyInstance, deps: RoutesDeps): void => {
  // Refused before the body is read: an overloaded ingest spends nothing on work it will not take.
  const onRequest = async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const refusal = deps.admission?.refusal();
    if (refusal === undefined) return;
    deps.metrics.countRefused('http');
    void reply.header('retry-after', String(refusal.retryAfterSeconds));
    throw refusal.error;
  };
  // CloudEvents structured and batched mode bodies parse as JSON bodies do (`__proto__` an own member).
  app.addContentTypeParser(
    [CLOUDEVENT_TYPE, CLOUDEVENT_BATCH_TYPE],
    { parseAs: 'string' },
    app.getDefaultJsonParser('ignore', 'ignore'),
  );
  app.post(
    '/v1/events',
    { bodyLimit: deps.bodyLimit, onRequest, config: { scope: 'events:write' }, schema: SUBMIT_SCHEMA },
    async (request) => {
      const items = scopeItems(parseHttpSubmission(request, deps.limits), tenantOf(request));
      // A chunked body has no length; it counts as the largest one.
      const length = Number(request.headers['content-length']);
      // A compressed body counts as what it decompressed to: that is what it holds in memory.
      const bytes = decodedBodyBytes(request) ?? (Number.isSafeInteger(length) ? length : deps.bodyLimit);
      const result = await deps.batcher.submit({ items, bytes });
      if (result.kind === 'failed') throw result.error;
      if (result.kind === 'redelivered') throw new ConcordError(coreErrors.INTERNAL, 'unexpected redelivery');
      for (const r of result.results) deps.metrics.countOutcome('http', r.outcome);
      logResults(deps.logger, result.results, { via: 'http' });
      return { results: result.results };
    },
  );

  app.get(
    '/v1/events/:id',
    { config: { scope: 'events:read' }, schema: GET_EVENT_SCHEMA },
    async (request) => {
      const { id } = request.params as { id: string };
      // Postgres text refuses U+0000 (and validation refuses it in ids), so no event has such an id:
      // answer without asking the database, which would fail the query.
      const scoped = isUnstorableText(id) ? undefined : requestedId(request, id);
      const stored = scoped === undefined ? undefined : await deps.store.getEvent(deps.db, scoped);
      if (stored === undefined) {
        throw new ConcordError(ingestErrors.EVENT_NOT_FOUND, `no event with id ${JSON.stringify(id)}`, {
          details: { id },
        });
      }
      const decision = stored.details['decision'];
      return { ...stored, ...(decision === undefined ? {} : { decision }) };
    },
  );

  app.get('/v1/events', { config: { scope: 'events:read' }, schema: FEED_SCHEMA }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const limit = parseLimit(single(query['limit']));
    const after = single(query['after']);
    if (after !== undefined && typeof after !== 'string') {
      throw new ConcordError(outboxErrors.INVALID_CURSOR, 'after must be a cursor string');
    }
    return deps.store.feed(deps.db, {
      limit,
      tenant: { tenant: tenantOf(request) },
      ...(after === undefined ? {} : { after }),
    });
  });
};
