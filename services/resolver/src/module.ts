import type { MessageBus, RetryOptions, Subscription } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import type { Logger } from '@concord/core';
import type { SpecRegistry } from '@concord/core/policy';
import type { StrategyRegistry } from '@concord/core/strategy';
import type { PhysicalClock } from '@concord/core/versions';
import type { Database } from '@concord/outbox';
import type { ServiceMetrics, ServiceModule } from '@concord/service-kit';
import { createResolverMetrics } from './metrics.js';
import type { PolicySource } from './policy/source.js';
import { createResolver } from './resolver.js';
import type { Resolver } from './types.js';
import { registerRoutes } from './routes.js';
import { registerConsole } from './console.js';
import type { ConsoleOptions } from './console.js';

export interface ResolverModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** The policy in force, reloaded on change (see `openPolicySource`). The module watches and closes it. */
  readonly policy: PolicySource;
  /** Schema of Concord's tables. Default `concord`. */
  readonly schema?: string;
  /** Clock of decisions, review deadlines and the sweeper. Default Date.now. */
  readonly clock?: PhysicalClock;
  /** Strategies for escalations (use the one the policy was loaded with). Default: the built-ins. */
  readonly registry?: StrategyRegistry;
  /** Specs `custom_match` conditions may name (use the ones the policy was loaded with). */
  readonly specs?: SpecRegistry;
  /** Consumer group and inbox consumer name. Default `resolver`. */
  readonly group?: string;
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
  /** How often overdue reviews are escalated. Default 5000 ms. */
  readonly sweepIntervalMs?: number;
  /** Reviews escalated per sweep at most. Default 100. */
  readonly sweepBatch?: number;
  /** The review console at `/console/`: where it takes live updates from. Default: it polls. */
  readonly console?: ConsoleOptions;
}

export interface ResolverModule extends ServiceModule {
  readonly resolver: Resolver;
  /** Runs one sweep of overdue reviews now; resolves to how many it escalated. */
  sweep(): Promise<number>;
}

/**
 * The resolver (DESIGN §4–§7): consumes `concord.conflicts.detected`, decides with the policy, writes
 * the ledger, applies the result and publishes through the outbox; serves the review API; escalates
 * overdue reviews in the background.
 */
export const createResolverModule = (deps: ResolverModuleDeps): ResolverModule => {
  const logger = deps.logger.child({ component: 'resolver' });
  const clock = deps.clock ?? { now: () => Date.now() };
  const group = deps.group ?? 'resolver';
  const schema = deps.schema ?? 'concord';
  const active: Resolver = createResolver({
    db: deps.db,
    schema,
    policy: deps.policy,
    clock,
    logger,
    consumer: group,
    observe: (observation) => metrics.decided(observation),
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
  });
  const metrics = createResolverMetrics({
    metrics: deps.metrics,
    policy: () => deps.policy,
    queue: () => active.conflicts.queueStats(deps.db),
    now: () => clock.now(),
    logger,
  });
  deps.policy.onReload((status) => metrics.policyReload(status));

  let subscription: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<number> | undefined;
  let closing: Promise<void> | undefined;

  const sweep = (): Promise<number> => {
    sweeping ??= active
      .escalateDue(deps.sweepBatch ?? 100)
      .then((count) => {
        if (count > 0) logger.info({ escalated: count }, 'overdue reviews escalated');
        return count;
      })
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };

  const schedule = () => {
    if (closing !== undefined) return;
    timer = setTimeout(() => {
      sweep()
        .catch((error: unknown) => logger.error({ err: error }, 'review sweep failed'))
        .finally(schedule);
    }, deps.sweepIntervalMs ?? 5_000);
    timer.unref();
  };

  return {
    name: 'resolver',
    resolver: active,
    sweep,
    routes: (app) => {
      registerRoutes(app, {
        resolver: active,
        db: deps.db,
        policy: deps.policy,
        ...(deps.registry === undefined ? {} : { registry: deps.registry }),
        ...(deps.specs === undefined ? {} : { specs: deps.specs }),
      });
      registerConsole(app, deps.console ?? {});
    },
    checks: [
      { name: 'resolver-consumer', isReady: () => subscription !== undefined && closing === undefined },
    ],
    async start() {
      if (subscription !== undefined || closing !== undefined) return;
      deps.policy.watch();
      subscription = await deps.bus.subscribe({
        group,
        topics: [Topics.conflictDetected],
        handler: async (message) => {
          await active.handleDetected(message);
        },
        ...(deps.concurrency === undefined ? {} : { concurrency: deps.concurrency }),
        ...(deps.retry === undefined ? {} : { retry: deps.retry }),
      });
      schedule();
      logger.info({ group, policy: deps.policy.info().name }, 'resolver started');
    },
    close() {
      closing ??= (async () => {
        clearTimeout(timer);
        await subscription?.close();
        await active.close();
        await sweeping?.catch(() => undefined);
        await deps.policy.close();
      })();
      return closing;
    },
  };
};
