import { topologyOf } from '@concord/core/messages';
import {
  connectInfrastructure,
  createLogger,
  createMetrics,
  createPipelineModules,
  exitOnStartupFailure,
  httpAccessFromEnv,
  runService,
} from '@concord/service-kit';
import { loadResolverConfig } from './config.js';
import { extensionList, loadExtensions } from './extensions.js';
import { resolverMigrations } from './migrations.js';
import { createResolverModule } from './module.js';
import { defaultPolicyPath } from './policy/default-path.js';
import { openPolicySource } from './policy/source.js';

const SERVICE = 'resolver';

/** Composition root: config → logger → metrics → policy → database (migrated) and bus → modules → run. */
const main = async (): Promise<void> => {
  const config = loadResolverConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const metrics = createMetrics(SERVICE);

  const extensions = await loadExtensions(extensionList(config.CONCORD_EXTENSIONS));
  if (extensions.modules.length > 0) logger.info({ modules: extensions.modules }, 'extensions loaded');
  const { registry, specs } = extensions;
  const policy = await openPolicySource({
    path: config.CONCORD_POLICY ?? defaultPolicyPath(),
    logger: logger.child({ component: 'policy' }),
    pollIntervalMs: config.POLICY_POLL_MS,
    registry,
    specs,
  });
  const { db, bus, checks, clients } = await connectInfrastructure(config, {
    service: SERVICE,
    logger,
    metrics,
    topology: topologyOf(SERVICE),
    migrations: [resolverMigrations],
  });

  const resolver = createResolverModule({
    db,
    bus,
    logger,
    metrics,
    policy,
    registry,
    specs,
    schema: config.DATABASE_SCHEMA,
    concurrency: config.RESOLVER_CONCURRENCY,
    sweepIntervalMs: config.REVIEW_SWEEP_MS,
    console:
      config.RESOLVER_CONSOLE_STREAM_URL === undefined
        ? {}
        : { streamUrl: config.RESOLVER_CONSOLE_STREAM_URL },
  });
  const pipeline = createPipelineModules({ service: SERVICE, db, bus, logger, metrics, env: config });

  await runService({
    service: SERVICE,
    port: config.PORT,
    access: await httpAccessFromEnv(config),
    logger,
    metrics,
    // Consumers stop first, then the relay publishes what they wrote, then clients close (pool last).
    modules: [resolver, ...pipeline],
    checks,
    clients,
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
};

main().catch(exitOnStartupFailure(SERVICE));
