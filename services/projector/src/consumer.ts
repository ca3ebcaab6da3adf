import type { IncomingMessage } from '@concord/bus';
import { encodeJson } from '@concord/bus';
import { Topics } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database, Inbox, Outbox } from '@concord/outbox';
import type { Checkpoints } from './checkpoints.js';
import { malformed } from './errors.js';
import { parseApplied, parseResolved, projectedOf, recordOf } from './messages.js';
import type { ProjectorMetrics } from './metrics.js';
import type { BackendOutcome, ProjectionOrchestrator } from './orchestrator.js';

export interface ProjectionHandlerOptions {
  readonly db: Database;
  readonly orchestrator: ProjectionOrchestrator;
  readonly inbox: Inbox;
  readonly outbox: Outbox;
  readonly checkpoints: Checkpoints;
  readonly metrics: ProjectorMetrics;
  readonly logger: Logger;
  /** Inbox consumer name. */
  readonly consumer: string;
  readonly now: () => number;
}

/**
 * Handles `concord.events.applied` and `concord.conflicts.resolved`. An applied change is upserted,
 * version-guarded, into every backend that projects its aggregate type, in one transaction with the
 * inbox row, the checkpoints and (when some backend moved forward) a `concord.aggregates.projected`
 * outbox row. A redelivery is absorbed by the inbox; a reordered older version is absorbed by the
 * version guard. A resolution's state reaches the projector as the `applied` message the resolver
 * emits in the same transaction, so a resolved message is recorded in the inbox and counted only.
 */
export const createProjectionHandler = (options: ProjectionHandlerOptions) => {
  const { db, orchestrator, inbox, outbox, checkpoints, metrics, consumer, now } = options;

  const handleApplied = async (message: IncomingMessage) => {
    const applied = parseApplied(message.payload);
    const record = recordOf(applied, new Date(now()).toISOString());
    const result = await db.withTransaction((tx) =>
      inbox.handle(tx, consumer, message.id, async (work): Promise<BackendOutcome[]> => {
        const outcomes = await orchestrator.project({ tx: work }, record);
        const moved = outcomes.filter((o) => o.result === 'applied').map((o) => o.backend);
        if (moved.length > 0) {
          await outbox.add(work, [
            {
              topic: Topics.projected,
              key: record.id,
              id: `${message.id}:projected`,
              payload: encodeJson(projectedOf(record, moved)),
              headers: {
                'correlation-id': message.headers['correlation-id'] ?? applied.eventId,
                'causation-id': message.id,
              },
            },
          ]);
          await checkpoints.record(work, {
            projection: record.type,
            backends: moved,
            messageId: message.id,
            eventId: applied.eventId,
            aggregateId: record.id,
            version: record.version,
            ...(record.committedAt === undefined ? {} : { committedAt: record.committedAt }),
          });
        }
        return outcomes;
      }),
    );
    if (result.duplicate) {
      metrics.messages.labels(Topics.applied, 'duplicate').inc();
      return;
    }
    const moved = result.value.filter((o) => o.result === 'applied');
    for (const outcome of result.value) metrics.projections.labels(outcome.backend, outcome.result).inc();
    metrics.messages.labels(Topics.applied, moved.length > 0 ? 'projected' : 'stale').inc();
    const committedAt = record.committedAt === undefined ? Number.NaN : Date.parse(record.committedAt);
    if (moved.length > 0 && Number.isFinite(committedAt)) {
      metrics.lag.labels(record.type).observe(Math.max(0, now() - committedAt) / 1000);
      for (const { backend } of moved) {
        metrics.checkpointVersion.labels(record.type, backend).set(record.version);
        metrics.checkpointTime.labels(record.type, backend).set(committedAt / 1000);
      }
    }
  };

  const handleResolved = async (message: IncomingMessage) => {
    parseResolved(message.payload);
    const result = await db.withTransaction((tx) =>
      inbox.handle(tx, consumer, message.id, () => Promise.resolve()),
    );
    metrics.messages.labels(Topics.conflictResolved, result.duplicate ? 'duplicate' : 'acknowledged').inc();
  };

  return async (message: IncomingMessage): Promise<void> => {
    switch (message.topic) {
      case Topics.applied:
        return handleApplied(message);
      case Topics.conflictResolved:
        return handleResolved(message);
      default:
        throw malformed(`the projector does not consume ${message.topic}`);
    }
  };
};
