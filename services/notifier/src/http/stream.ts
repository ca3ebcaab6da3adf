import { ConcordError } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import { exemptFromIdleTimeout, serviceKitErrors, tenantOf } from '@concord/service-kit';
import type { FastifyInstance } from 'fastify';
import { parseFormat } from '../cloudevent.js';
import { notifierErrors } from '../errors.js';
import { compileFilter, filterFromQuery } from '../filter.js';
import type { NotifierMetrics } from '../metrics.js';
import { STREAM_SCHEMA } from './schemas.js';
import type { LogPosition, NotificationLog } from '../store/log.js';
import type { NotificationFeed } from '../stream/feed.js';
import { createStreamSession } from '../stream/session.js';
import type { StreamSession } from '../stream/session.js';

export interface StreamRouteOptions {
  readonly db: Database;
  readonly log: NotificationLog;
  readonly feed: NotificationFeed;
  readonly metrics: NotifierMetrics;
  readonly heartbeatMs: number;
  readonly limits?: Partial<StreamLimits>;
  readonly logger: Logger;
}

/** Caps on streams, so slow or many clients cannot pin the notifier's memory. */
export interface StreamLimits {
  /** Open streams in this process; one more gets 503 `CONCORD_STREAM_LIMIT`. */
  readonly maxStreams: number;
  /** Open streams from one client address; one more gets 429 `CONCORD_STREAM_CLIENT_LIMIT`. */
  readonly maxPerClient: number;
  /** How long a client may leave its connection's send buffer full before its stream is destroyed. */
  readonly stallMs: number;
  /** Log entries a catching-up stream reads at once. */
  readonly pageSize: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = Object.freeze({
  maxStreams: 1_000,
  maxPerClient: 16,
  stallMs: 30_000,
  pageSize: 100,
});

export interface StreamRoute {
  /** Ends every open stream (shutdown); clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void;
}

const lastEventIdOf = (header: string | string[] | undefined, query: unknown): string | undefined => {
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const fromQuery = typeof query === 'string' ? query : undefined;
  const raw = (fromHeader ?? fromQuery)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,19}$/.test(raw) || BigInt(raw) > 9223372036854775807n) {
    throw new ConcordError(
      notifierErrors.STREAM_CURSOR_INVALID,
      'Last-Event-ID must be a notification id (a non-negative integer)',
    );
  }
  return raw;
};

/**
 * `GET /v1/stream`: Server-Sent Events of notifications matching the query filter (`eventTypes`,
 * `aggregateTypes`, `aggregateIds`, `outcomes`, `topics`; comma-separated or repeated). The
 * `Last-Event-ID` header (or `?lastEventId=`) resumes after that id; `0` replays the whole log;
 * without one the stream starts at the present. `?format=cloudevents` sends each notification as a
 * structured-mode CloudEvent (`data:` the event; `id:` and `event:` as always). Heartbeat comments keep proxies from timing out.
 * A caller sees only its tenant's notifications, with its plain ids (DESIGN §5 "Tenants"); ids stay the
 * log's, so Last-Event-ID resumes as for anyone.
 * Streams are capped in all and per client address (`limits`); the slot is taken before the first
 * await, so a burst of requests cannot overshoot the caps.
 */
export const registerStreamRoute = (app: FastifyInstance, options: StreamRouteOptions): StreamRoute => {
  const limits: StreamLimits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
  const sessions = new Set<StreamSession>();
  /** Streams open or opening, in all and per client address (taken before the first await). */
  let open = 0;
  const perClient = new Map<string, number>();
  let closing = false;

  const take = (client: string): (() => void) => {
    if (open >= limits.maxStreams) {
      throw new ConcordError(
        notifierErrors.STREAM_LIMIT,
        `the notifier serves at most ${limits.maxStreams} streams; try again later`,
        { retryable: true },
      );
    }
    const mine = perClient.get(client) ?? 0;
    if (mine >= limits.maxPerClient) {
      throw new ConcordError(
        notifierErrors.STREAM_CLIENT_LIMIT,
        `at most ${limits.maxPerClient} streams per client`,
        { retryable: true },
      );
    }
    open += 1;
    perClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      open -= 1;
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    };
  };

  app.get<{ Querystring: Record<string, unknown> }>(
    '/v1/stream',
    { config: { scope: 'events:read' }, schema: STREAM_SCHEMA },
    async (request, reply) => {
      if (closing)
        throw new ConcordError(serviceKitErrors.NOT_READY, 'the notifier is shutting down', {
          retryable: true,
        });
      const matches = compileFilter(filterFromQuery(request.query));
      const lastEventId = lastEventIdOf(request.headers['last-event-id'], request.query.lastEventId);
      const format = parseFormat(request.query.format);
      const release = take(request.ip);
      let from: LogPosition;
      try {
        from =
          lastEventId === undefined
            ? await options.log.head(options.db)
            : await options.log.positionOf(options.db, lastEventId);
      } catch (error) {
        release();
        throw error;
      }
      // The session has its heartbeat and stall deadline; the server's idle timeout is for requests.
      exemptFromIdleTimeout(request);
      reply.hijack();
      const session = createStreamSession({
        response: reply.raw,
        db: options.db,
        log: options.log,
        feed: options.feed,
        matches,
        tenant: tenantOf(request),
        from,
        format,
        heartbeatMs: options.heartbeatMs,
        stallMs: limits.stallMs,
        pageSize: limits.pageSize,
        logger: options.logger.child({ component: 'stream', client: request.id }),
        onClose: () => {
          sessions.delete(session);
          release();
          options.metrics.sseClients.dec();
        },
      });
      sessions.add(session);
      options.metrics.sseClients.inc();
      await session.run();
    },
  );

  return {
    closeAll() {
      closing = true;
      for (const session of [...sessions]) session.close();
    },
  };
};
