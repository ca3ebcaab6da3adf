import { ConcordError } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import type { FastifyInstance } from 'fastify';
import { NotifierErrorCode, notifierError } from '../errors.js';
import { compileFilter, filterFromQuery } from '../filter.js';
import type { NotifierMetrics } from '../metrics.js';
import type { NotificationLog } from '../store/log.js';
import type { NotificationFeed } from '../stream/feed.js';
import { createStreamSession } from '../stream/session.js';
import type { StreamSession } from '../stream/session.js';

export interface StreamRouteOptions {
  readonly db: Database;
  readonly log: NotificationLog;
  readonly feed: NotificationFeed;
  readonly metrics: NotifierMetrics;
  readonly heartbeatMs: number;
  readonly maxBufferedBytes?: number;
  readonly logger: Logger;
}

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
    throw notifierError(
      NotifierErrorCode.cursorInvalid,
      'Last-Event-ID must be a notification id (a non-negative integer)',
    );
  }
  return raw;
};

/**
 * `GET /v1/stream`: Server-Sent Events of notifications matching the query filter (`eventTypes`,
 * `aggregateTypes`, `aggregateIds`, `outcomes`, `topics`; comma-separated or repeated). The
 * `Last-Event-ID` header (or `?lastEventId=`) resumes after that id; `0` replays the whole log;
 * without one the stream starts at the present. Heartbeat comments keep proxies from timing out.
 */
export const registerStreamRoute = (app: FastifyInstance, options: StreamRouteOptions): StreamRoute => {
  const sessions = new Set<StreamSession>();
  let closing = false;

  app.get<{ Querystring: Record<string, unknown> }>('/v1/stream', async (request, reply) => {
    if (closing)
      throw new ConcordError('CONCORD_NOT_READY', 'the notifier is shutting down', { retryable: true });
    const matches = compileFilter(filterFromQuery(request.query));
    const lastEventId = lastEventIdOf(request.headers['last-event-id'], request.query.lastEventId);
    const from =
      lastEventId === undefined
        ? await options.log.head(options.db)
        : await options.log.positionOf(options.db, lastEventId);
    reply.hijack();
    const session = createStreamSession({
      response: reply.raw,
      db: options.db,
      log: options.log,
      feed: options.feed,
      matches,
      from,
      heartbeatMs: options.heartbeatMs,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      logger: options.logger.child({ component: 'stream', client: request.id }),
      onClose: () => {
        sessions.delete(session);
        options.metrics.sseClients.dec();
      },
    });
    sessions.add(session);
    options.metrics.sseClients.inc();
    await session.run();
  });

  return {
    closeAll() {
      closing = true;
      for (const session of [...sessions]) session.close();
    },
  };
};
