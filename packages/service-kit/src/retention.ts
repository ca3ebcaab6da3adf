import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import { createInbox } from '@concord/outbox';
import type { Database, Inbox, Sql } from '@concord/outbox';
import { Counter } from 'prom-client';
import { envInt } from './config.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceModule } from './service.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The retention loop's pace, shared by every service that prunes. */
export const retentionEnvShape = {
  /** How often the retention loop runs (each run deletes in bounded batches). Default 60 s. */
  RETENTION_INTERVAL_MS: envInt(60_000, { min: 1_000, max: DAY_MS }),
} as const;

/**
 * Retention variables of a service that consumes through the inbox. The inbox forgets a message id
 * after `INBOX_RETENTION_MS`, and a redelivery after that is handled again, so the window must outlast
 * every way a message comes back: broker redelivery after a crash (seconds), a Kafka rewind to the
 * committed offset (minutes), the outbox relay publishing a row again while it keeps it (a day by
 * default), an operator replaying `<topic>.dlq` (days). Default 7 days, at least 1 minute: a window
 * that short is for tests and soaks, where nothing is redelivered that late.
 */
export const inboxRetentionEnvShape = {
  ...retentionEnvShape,
  INBOX_RETENTION_MS: envInt(7 * DAY_MS, { min: MINUTE_MS, max: 365 * DAY_MS }),
  /**
   * How long the service's relay keeps outbox rows once they are published (its cleanup runs every
   * minute): only what is settled is deleted, so this bounds the table, not delivery; dead letters stay in
   * `outbox_dead_letters` until replayed. Default a day, at least a minute.
   */
  OUTBOX_RETENTION_MS: envInt(DAY_MS, { min: MINUTE_MS, max: 365 * DAY_MS }),
} as const;

/** One table's pruning: `pruneBatch` deletes one bounded batch (its own short transaction). */
export interface RetentionTask {
  /** The table, as the metric's `table` label. */
  readonly table: string;
  /** Deletes one batch; `more` when rows older than the retention may remain. */
  pruneBatch(): Promise<{ readonly deleted: number; readonly more: boolean }>;
}

export interface RetentionModuleDeps {
  readonly tasks: readonly RetentionTask[];
  readonly metrics: ServiceMetrics;
  readonly logger?: Logger;
  /** Pause between runs. Default 60 s. */
  readonly intervalMs?: number;
  /** Batches one task runs per run, so one table cannot hold the loop for long. Default 100. */
  readonly maxBatchesPerRun?: number;
}

export interface RetentionModule extends ServiceModule {
  /** One run over every task now (tests; the loop runs them on its own). Rows deleted per table. */
  runOnce(): Promise<Record<string, number>>;
}

const prunedCounter = (registry: ServiceMetrics['registry']): Counter<'table'> => {
  const name = 'concord_retention_pruned_rows_total';
  const known = registry.getSingleMetric(name);
  if (known !== undefined) return known as Counter<'table'>;
  return new Counter({
    name,
    help: 'Rows deleted by the retention loop, by table.',
    labelNames: ['table'] as const,
    registers: [registry],
  });
};

/**
 * The retention loop beside a service's modules: every `intervalMs` it prunes each task's table in
 * bounded batches (short transactions, no long locks). Instances running it at once are safe: every
 * task's statement skips rows another pruner holds. A failing run is logged and retried next time.
 */
export const createRetentionModule = (deps: RetentionModuleDeps): RetentionModule => {
  const logger = (deps.logger ?? silentLogger).child({ component: 'retention' });
  const intervalMs = deps.intervalMs ?? 60_000;
  const maxBatches = deps.maxBatchesPerRun ?? 100;
  const pruned = prunedCounter(deps.metrics.registry);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> | undefined;

  const pruneTable = async (task: RetentionTask): Promise<number> => {
    let total = 0;
    for (let batch = 0; batch < maxBatches && !stopped; batch += 1) {
      const { deleted, more } = await task.pruneBatch();
      total += deleted;
      pruned.inc({ table: task.table }, deleted);
      if (!more) break;
    }
    return total;
  };

  const runOnce = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (const task of deps.tasks) {
      try {
        counts[task.table] = await pruneTable(task);
      } catch (error) {
        logger.warn({ err: error, table: task.table }, 'pruning failed; the next run tries again');
      }
    }
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (total > 0) logger.info({ pruned: counts }, 'retention pruned rows');
    return counts;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  let closing: Promise<void> | undefined;
  return {
    name: 'retention',
    runOnce,
    start() {
      schedule();
      return Promise.resolve();
    },
    close() {
      closing ??= (async () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        await running;
      })();
      return closing;
    },
  };
};

/** The inbox rows of `consumers`, kept `retentionMs`. */
export const inboxRetentionTask = (options: {
  readonly sql: Sql;
  readonly inbox: Inbox;
  readonly consumers: readonly string[];
  readonly retentionMs: number;
  readonly batchSize?: number;
}): RetentionTask => {
  const limit = options.batchSize ?? 5_000;
  return {
    table: 'inbox',
    async pruneBatch() {
      const deleted = await options.inbox.prune(options.sql, {
        olderThanMs: options.retentionMs,
        limit,
        consumers: options.consumers,
      });
      return { deleted, more: deleted === limit };
    },
  };
};

/**
 * A service's retention loop over its own inbox rows, from its {@link inboxRetentionEnvShape} variables:
 * one line in a composition root. An inbox window under an hour is taken (tests and soaks use one) with a
 * warning: a message redelivered or replayed after it is handled again.
 */
export const createInboxRetentionModule = (deps: {
  readonly db: Database;
  readonly metrics: ServiceMetrics;
  readonly logger?: Logger;
  readonly schema?: string;
  /** The inbox consumer names the service records (its consumer groups). */
  readonly consumers: readonly string[];
  readonly env: { readonly INBOX_RETENTION_MS: number; readonly RETENTION_INTERVAL_MS: number };
}): RetentionModule => {
  if (deps.env.INBOX_RETENTION_MS < HOUR_MS) {
    (deps.logger ?? silentLogger).warn(
      { inboxRetentionMs: deps.env.INBOX_RETENTION_MS },
      'INBOX_RETENTION_MS is under an hour: a message redelivered or replayed later than that is handled again (for tests and soaks, not deployments)',
    );
  }
  return createRetentionModule({
    metrics: deps.metrics,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    intervalMs: deps.env.RETENTION_INTERVAL_MS,
    tasks: [
      inboxRetentionTask({
        sql: deps.db,
        inbox: createInbox(deps.schema === undefined ? {} : { schema: deps.schema }),
        consumers: deps.consumers,
        retentionMs: deps.env.INBOX_RETENTION_MS,
      }),
    ],
  });
};
