import { randomUUID } from 'node:crypto';
import type { JsonObject, Logger } from '@concord/core';
import type { FieldVersion } from '@concord/core/conflict';
import { readFeedTail } from '@concord/outbox';
import type { Database, EventStore, FeedEvent, Sql } from '@concord/outbox';
import type { RebuildWriter } from '../backend.js';
import { rebuildRunning } from '../errors.js';
import type { ProjectorMetrics } from '../metrics.js';
import type { ProjectionRecord, TypeScope } from '../model.js';
import type { ProjectionOrchestrator } from '../orchestrator.js';
import type { ProjectionTables } from '../tables.js';
import { foldEvents, gapsOf } from './fold.js';
import type { HeldEvents } from './fold.js';

export interface RebuildRequest {
  /** Rebuild one aggregate type; default every type. */
  readonly aggregateType?: string;
}

/** What `POST /v1/projections/rebuild` returns. */
export interface RebuildSummary {
  readonly id: string;
  readonly aggregateType: string | null;
  readonly status: 'completed';
  /** Feed rows read (every type). */
  readonly eventsRead: number;
  /** Events of the scope applied to a rebuilt state. */
  readonly eventsApplied: number;
  /** Of those, applied while swapping (committed during the rebuild). */
  readonly caughtUp: number;
  readonly aggregates: number;
  readonly backends: readonly {
    readonly name: string;
    readonly scope: TypeScope;
    readonly records: number;
  }[];
  /** Events whose predecessor version never appeared in the store (not applied). */
  readonly gaps: readonly { aggregateType: string; aggregateId: string; version: number; eventId: string }[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
}

/** A rebuild's row: progress while it runs, the summary once done. */
export interface RebuildStatus {
  readonly id: string;
  readonly aggregateType: string | null;
  readonly status: 'running' | 'completed' | 'failed' | 'abandoned';
  readonly events: number;
  readonly aggregates: number;
  readonly summary?: RebuildSummary;
  readonly error?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
}

export interface RebuilderOptions {
  readonly db: Database;
  readonly store: EventStore;
  readonly orchestrator: ProjectionOrchestrator;
  readonly tables: ProjectionTables;
  /** Schema of the event store (for the catch-up read). */
  readonly schema: string;
  readonly metrics: ProjectorMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** Feed page size. Default 1000. */
  readonly pageSize?: number;
  /** Records handed to backends per write. Default 500. */
  readonly writeBatch?: number;
  /** A running rebuild without a heartbeat for this long is considered abandoned. Default 5 min. */
  readonly staleAfterMs?: number;
}

export interface Rebuilder {
  /**
   * Replays the event store's feed into fresh states, then swaps them into every backend that
   * rebuilds the scope, in one transaction that first blocks live upserts and catches up with every
   * event committed meanwhile. Live messages arriving after the swap apply on top (version-guarded).
   */
  rebuild(request?: RebuildRequest): Promise<RebuildSummary>;
  /** The running rebuild, else the latest one. */
  status(): Promise<RebuildStatus | undefined>;
}

interface StagingRow {
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  fields: JsonObject;
  field_versions: Record<string, FieldVersion>;
  event_id: string | null;
}

interface RebuildRow {
  id: string;
  aggregate_type: string | null;
  status: RebuildStatus['status'];
  events: number;
  aggregates: number;
  summary: RebuildSummary | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

/** A backend's rebuild writer in a swap; `outside`: a cache written after the swap committed. */
interface Writer {
  readonly name: string;
  readonly scope: TypeScope;
  readonly writer: RebuildWriter;
  readonly outside: boolean;
}

interface ProjectionRow extends StagingRow {
  committed_at: string | null;
  updated_at: string;
}

const recordOfRow = (row: ProjectionRow): ProjectionRecord => ({
  type: row.aggregate_type,
  id: row.aggregate_id,
  version: row.version,
  fields: row.fields,
  fieldVersions: row.field_versions,
  ...(row.event_id === null ? {} : { eventId: row.event_id }),
  ...(row.committed_at === null ? {} : { committedAt: new Date(row.committed_at).toISOString() }),
  updatedAt: new Date(row.updated_at).toISOString(),
});

const isUniqueViolation = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';

export const createRebuilder = (options: RebuilderOptions): Rebuilder => {
  const { db, store, orchestrator, tables, metrics, now } = options;
  const pageSize = options.pageSize ?? 1000;
  const writeBatch = options.writeBatch ?? 500;
  const staleAfterMs = options.staleAfterMs ?? 5 * 60_000;
  const log = options.logger.child({ component: 'projection-rebuild' });

  const register = async (id: string, aggregateType: string | null) => {
    await db.query(
      `UPDATE ${tables.rebuilds} SET status = 'abandoned', finished_at = clock_timestamp()
       WHERE status = 'running' AND heartbeat_at < clock_timestamp() - $1 * interval '1 millisecond'`,
      [staleAfterMs],
    );
    try {
      await db.query(
        `INSERT INTO ${tables.rebuilds} (id, aggregate_type, status) VALUES ($1, $2, 'running')`,
        [id, aggregateType],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw rebuildRunning();
      throw error;
    }
    await db.query(`DELETE FROM ${tables.rebuildRows} WHERE rebuild_id = $1`, [id]);
  };

  /** Streams the staged states to the writers in key order. */
  const swapIn = async (sql: Sql, id: string, writers: readonly RebuildWriter[]): Promise<number> => {
    let after: [string, string] = ['', ''];
    let first = true;
    let total = 0;
    const updatedAt = new Date(now()).toISOString();
    for (;;) {
      const { rows } = await sql.query<StagingRow>(
        `SELECT aggregate_type, aggregate_id, version::float8 AS version, fields, field_versions, event_id
         FROM ${tables.rebuildRows}
         WHERE rebuild_id = $1 AND ($4 OR (aggregate_type, aggregate_id) > ($2, $3))
         ORDER BY aggregate_type, aggregate_id LIMIT $5`,
        [id, after[0], after[1], first, writeBatch],
      );
      if (rows.length === 0) return total;
      const records: ProjectionRecord[] = rows.map((row) => ({
        type: row.aggregate_type,
        id: row.aggregate_id,
        version: row.version,
        fields: row.fields,
        fieldVersions: row.field_versions,
        ...(row.event_id === null ? {} : { eventId: row.event_id }),
        updatedAt,
      }));
      for (const writer of writers) await writer.write(records);
      total += records.length;
      const last = rows.at(-1);
      if (last !== undefined) after = [last.aggregate_type, last.aggregate_id];
      first = false;
    }
  };

  /** Writes the committed rows of each cache's scope to it, in key order, version-guarded. */
  const refill = async (caches: readonly Writer[]): Promise<void> => {
    for (const { scope, writer } of caches) {
      let after: [string, string] = ['', ''];
      let first = true;
      for (;;) {
        const { rows } = await db.query<ProjectionRow>(
          `SELECT aggregate_type, aggregate_id, version::float8 AS version, fields, field_versions, event_id,
             committed_at::text AS committed_at, updated_at::text AS updated_at
           FROM ${tables.projections}
           WHERE ($1::text[] IS NULL OR aggregate_type = ANY($1::text[]))
             AND ($4 OR (aggregate_type, aggregate_id) > ($2, $3))
           ORDER BY aggregate_type, aggregate_id LIMIT $5`,
          [scope === '*' ? null : scope, after[0], after[1], first, writeBatch],
        );
        if (rows.length === 0) break;
        await writer.write(rows.map(recordOfRow));
        const last = rows.at(-1);
        if (last !== undefined) after = [last.aggregate_type, last.aggregate_id];
        first = false;
      }
      await writer.finish();
    }
  };

  const rebuild = async (request: RebuildRequest = {}): Promise<RebuildSummary> => {
    const scope: TypeScope = request.aggregateType === undefined ? '*' : [request.aggregateType];
    const targets = orchestrator.rebuildTargets(scope);
    const inScope = (e: FeedEvent) => scope === '*' || scope.includes(e.event.aggregateType);
    const id = randomUUID();
    const startedAt = now();
    const aggregateType = request.aggregateType ?? null;
    await register(id, aggregateType);
    metrics.rebuildRunning.set(1);
    metrics.rebuildEvents.set(0);
    log.info({ rebuild: id, aggregateType, backends: targets.map((t) => t.backend.name) }, 'rebuild started');

    const held: HeldEvents = new Map();
    let eventsRead = 0;
    let eventsApplied = 0;
    try {
      // 1. Replay the feed, page by page, into the staging states.
      let cursor: string | undefined;
      for (;;) {
        const page = await store.feed(db, {
          ...(cursor === undefined ? {} : { after: cursor }),
          limit: pageSize,
        });
        cursor = page.next;
        if (page.events.length === 0) break;
        eventsRead += page.events.length;
        await db.withTransaction(async (tx) => {
          const folded = await foldEvents(tx, {
            tables,
            rebuildId: id,
            events: page.events.filter(inScope),
            held,
          });
          eventsApplied += folded.applied;
          await tx.query(
            `UPDATE ${tables.rebuilds} SET events = $2, cursor = $3, heartbeat_at = clock_timestamp() WHERE id = $1`,
            [id, eventsRead, cursor],
          );
        });
        metrics.rebuildEvents.set(eventsRead);
        log.debug({ rebuild: id, eventsRead, eventsApplied }, 'rebuild progress');
      }
      const replayed = eventsApplied;

      // 2. Swap: block live writes, catch up with everything committed since, write, commit. Caches
      // outside Postgres only drop the scope in the swap; they are written once it committed (3.).
      let caches: Writer[] = [];
      const swapped = await db.withTransaction(async (tx) => {
        const writers: Writer[] = [];
        for (const target of targets) {
          const begin = target.backend.beginRebuild?.bind(target.backend);
          if (begin === undefined) continue;
          writers.push({
            name: target.backend.name,
            scope: target.scope,
            writer: await begin({ tx }, target.scope),
            outside: target.backend.capabilities.outsideTransaction === true,
          });
        }
        caches = writers.filter((w) => w.outside);
        const inside = writers.filter((w) => !w.outside);
        let tail = cursor ?? '';
        for (;;) {
          const page = await readFeedTail(tx, { schema: options.schema, after: tail, limit: pageSize });
          if (page.events.length === 0) break;
          tail = page.next;
          eventsRead += page.events.length;
          const folded = await foldEvents(tx, {
            tables,
            rebuildId: id,
            events: page.events.filter(inScope),
            held,
          });
          eventsApplied += folded.applied;
        }
        const aggregates = await swapIn(
          tx,
          id,
          inside.map((w) => w.writer),
        );
        for (const { writer } of inside) await writer.finish();
        await tx.query(`DELETE FROM ${tables.rebuildRows} WHERE rebuild_id = $1`, [id]);
        const finishedAt = now();
        const summary: RebuildSummary = {
          id,
          aggregateType,
          status: 'completed',
          eventsRead,
          eventsApplied,
          caughtUp: eventsApplied - replayed,
          aggregates,
          backends: writers.map((w) => ({ name: w.name, scope: w.scope, records: aggregates })),
          gaps: gapsOf(held).slice(0, 100),
          startedAt: new Date(startedAt).toISOString(),
          finishedAt: new Date(finishedAt).toISOString(),
          durationMs: finishedAt - startedAt,
        };
        await tx.query(
          `UPDATE ${tables.rebuilds}
           SET status = 'completed', events = $2, aggregates = $3, summary = $4::jsonb, cursor = $5,
             heartbeat_at = clock_timestamp(), finished_at = clock_timestamp()
           WHERE id = $1`,
          [id, eventsRead, aggregates, JSON.stringify(summary), tail],
        );
        return summary;
      });
      // 3. The caches, from the committed rows: never ahead of them. Until then a read misses and fills.
      await refill(caches).catch((error: unknown) =>
        log.warn({ err: error, rebuild: id }, 'cache refill after the swap failed; reads fill the cache'),
      );
      metrics.rebuildEvents.set(eventsRead);
      metrics.rebuilds.labels('completed').inc();
      log.info({ ...swapped, gaps: swapped.gaps.length }, 'rebuild completed');
      return swapped;
    } catch (error) {
      metrics.rebuilds.labels('failed').inc();
      log.error({ err: error, rebuild: id }, 'rebuild failed');
      await db
        .withTransaction(async (tx) => {
          await tx.query(
            `UPDATE ${tables.rebuilds} SET status = 'failed', error = $2, finished_at = clock_timestamp()
             WHERE id = $1`,
            [id, error instanceof Error ? error.message : String(error)],
          );
          await tx.query(`DELETE FROM ${tables.rebuildRows} WHERE rebuild_id = $1`, [id]);
        })
        .catch((cleanup: unknown) => log.error({ err: cleanup, rebuild: id }, 'rebuild cleanup failed'));
      throw error;
    } finally {
      metrics.rebuildRunning.set(0);
    }
  };

  return {
    rebuild,
    async status() {
      const { rows } = await db.query<RebuildRow>(
        `SELECT id, aggregate_type, status, events::float8 AS events, aggregates::float8 AS aggregates, summary,
           error, started_at::text AS started_at, finished_at::text AS finished_at
         FROM ${tables.rebuilds} ORDER BY (status = 'running') DESC, started_at DESC LIMIT 1`,
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        id: row.id,
        aggregateType: row.aggregate_type,
        status: row.status,
        events: row.events,
        aggregates: row.aggregates,
        ...(row.summary === null ? {} : { summary: row.summary }),
        ...(row.error === null ? {} : { error: row.error }),
        startedAt: new Date(row.started_at).toISOString(),
        ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at).toISOString() }),
      };
    },
  };
};
