export { loadConfig, envBoolean, envInt, envPort, logFormat, logLevel } from './config.js';
export { createLogger } from './logger.js';
export type { LoggerOptions } from './logger.js';
export { createMetrics } from './metrics.js';
export type { ServiceMetrics } from './metrics.js';
export { createHttpServer, DEFAULT_HTTP_TIMEOUTS, exemptFromIdleTimeout } from './http.js';
export { decodedBodyBytes } from './compression.js';
export type { HttpServer, HttpServerOptions, HttpTimeouts, ReadinessCheck, RouteInfo } from './http.js';
export { serviceKitErrors, toHttpError } from './errors.js';
export type { ErrorBody } from './errors.js';
export { onShutdown } from './lifecycle.js';
export type { Closeable, LifecycleOptions } from './lifecycle.js';
export { runService } from './service.js';
export type { RunServiceOptions, RunningService, ServiceModule } from './service.js';
export { authEnvShape, serviceEnvShape, withBrokerUrls } from './env.js';
export {
  busConfigFromEnv,
  connectInfrastructure,
  exitOnStartupFailure,
  openPostgres,
  withBusMetrics,
} from './infrastructure.js';
export type { Infrastructure, InfrastructureEnv, ProbedDatabase } from './infrastructure.js';
export { consumerLagProbeFor, consumersIn, createConsumerLagModule } from './consumer-lag.js';
export type { ConsumerLagModule, ConsumerLagModuleDeps } from './consumer-lag.js';
export { createRelayModule } from './relay-module.js';
export type { RelayModule, RelayModuleDeps } from './relay-module.js';
export { createBatcher } from './batcher.js';
export type { Batcher, BatcherOptions, CommitInfo } from './batcher.js';
export { createBatchedHandler } from './batched-handler.js';
export type { BatchedHandler, BatchedHandlerOptions } from './batched-handler.js';
export { recordInboxBatch } from './inbox-batch.js';
export {
  createInboxRetentionModule,
  createRetentionModule,
  inboxRetentionEnvShape,
  inboxRetentionTask,
  retentionEnvShape,
} from './retention.js';
export type { RetentionModule, RetentionModuleDeps, RetentionTask } from './retention.js';
export { authConfigured, httpAccessFromEnv, requestedId, subjectOf, tenantOf } from './access.js';
export type { AccessEnv, HttpAccess } from './access.js';
export { createAuthenticator, SCOPES, sha256Hex } from './auth.js';
export type { ApiKey, Authenticator, Identity, RouteScope, Scope } from './auth.js';
export { parseApiKeys } from './api-keys.js';
export { DEFAULT_PAGE_CSP, registerStaticFiles } from './static-files.js';
export type { StaticFilesOptions } from './static-files.js';
export { createDeadLettersModule } from './dead-letters/module.js';
export type { DeadLettersModuleDeps } from './dead-letters/module.js';
export { createPipelineModules } from './pipeline-modules.js';
export type { PipelineModulesDeps } from './pipeline-modules.js';
export type {
  DeadLetterFilter,
  DeadLetterFilterName,
  DeadLetterKind,
  DeadLetterPageView,
  DeadLetterSource,
  DeadLetterView,
  RefusedReplay,
  ReplayOutcome,
} from './dead-letters/types.js';
